"""`quorum report DIR`: rebuild the reports of a run directory (report.html, report.md) or
of a bench directory (bench_report.html, and each instance's report.html it lacks) from its
files alone, for any run, one written by an earlier version included (what it lacks reads
"absent")."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from quorum.report import HTML, MARKDOWN, write_reports
from quorum.report.bench_view import BENCH_HTML, bench_layout
from quorum.report.view import RUN_FILES, check_run_dir
from sandbox.errors import QuorumError

BENCH_FILES = ("bench.jsonl", "bench_report.json", "results.json (small_model_scaling.py)")


def report_command(
    run_dir: Annotated[
        Path,
        typer.Argument(
            help="A run directory (quorum solve --out; the demo's run/), or a bench directory "
            "(quorum bench --out, or benchmarks/small_model_scaling.py --out).",
            metavar="DIR",
        ),
    ],
    out: Annotated[
        Path | None, typer.Option(help="Write the reports here instead of into DIR.")
    ] = None,
) -> None:
    """Rebuild a run's report.html (self-contained: open it from the file system) and
    report.md, or a bench's bench_report.html with its plots, from the directory's files."""
    is_bench = run_dir.is_dir() and bench_layout(run_dir) is not None
    if run_dir.is_dir() and not is_bench and not any((run_dir / n).exists() for n in RUN_FILES):
        raise QuorumError(
            f"{run_dir} is neither a run directory nor a bench directory: a run directory "
            f"holds {', '.join(RUN_FILES)}; a bench directory holds {', '.join(BENCH_FILES)}",
            hint="pass the directory `quorum solve --out` or `quorum bench --out` wrote",
        )
    if not is_bench:
        check_run_dir(run_dir)
    try:
        if is_bench:
            from quorum.report.bench_render import write_bench_report  # matplotlib: only now

            write_bench_report(run_dir, out_dir=out, strict=True)
        else:
            write_reports(run_dir, out_dir=out, strict=True)
    except OSError as exc:
        raise QuorumError(f"cannot write the report: {exc}") from exc
    except Exception as exc:  # the renderer's own bug: say so plainly, and where
        raise QuorumError(
            f"the report of {run_dir} could not be rendered: {type(exc).__name__}: {exc}",
            hint="this is a Quorum bug; please report it with the directory",
        ) from exc
    target = out or run_dir
    for name in (BENCH_HTML,) if is_bench else (HTML, MARKDOWN):
        typer.echo(target / name)
