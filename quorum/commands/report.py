"""`quorum report RUN_DIR`: rebuild report.html and report.md from a run directory alone,
for any run, one written by an earlier version included (what it lacks reads "absent")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quorum.report import HTML, MARKDOWN, write_reports
from quorum.report.view import check_run_dir
from sandbox.errors import QuorumError


def report_command(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory (quorum solve --out; the demo's run/).")
    ],
    out: Annotated[
        Path | None, typer.Option(help="Write the reports here instead of into RUN_DIR.")
    ] = None,
) -> None:
    """Rebuild a run's report.html (self-contained: open it from the file system) and
    report.md from the files of its run directory."""
    check_run_dir(run_dir)
    try:
        write_reports(run_dir, out_dir=out, strict=True)
    except OSError as exc:
        raise QuorumError(f"cannot write the report: {exc}") from exc
    except Exception as exc:  # the renderer's own bug: say so plainly, and where
        raise QuorumError(
            f"the report of {run_dir} could not be rendered: {type(exc).__name__}: {exc}",
            hint="this is a Quorum bug; please report it with the run directory",
        ) from exc
    target = out or run_dir
    typer.echo(target / HTML)
    typer.echo(target / MARKDOWN)
