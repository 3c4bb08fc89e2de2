"""bench_report.html: a bench directory's view-model (`bench_view`) and its figures
(`plots`) through jinja2, with each instance's report.html written where it is missing."""

from __future__ import annotations

import os
from html import escape
from pathlib import Path

from quorum.report.bench_view import BENCH_HTML, BenchView, build_bench_view
from quorum.report.plots import PLOTS, draw_all
from quorum.report.render import HTML, _environment, write_reports

__all__ = ["BENCH_HTML", "render_bench_html", "write_bench_report"]

CAPTIONS = {
    "coverage": "pass@k of the graded candidates against k (log scale), with the "
    "Large Language Monkeys model of repeated sampling fitted to it: coverage(k) = "
    "exp(a·k^b), least squares on log(−log coverage) against log k over the k whose "
    "coverage is strictly between 0 and 100% (the fit's parameters in the legend).",
    "selection-gap": "coverage@k and selected@k on the same sub-samples: the shaded band "
    "is what sampling found and selection did not pick.",
    "resolve-vs-cost": "Resolve rate (selected@k) and coverage@k against the mean spend of "
    "one instance sampling k candidates: k times its mean candidate's cost plus the rest of "
    "its run (test writers, verifier, selection).",
    "cost-per-resolved": "Mean spend per instance at k divided by selected@k: dollars per "
    "resolved instance.",
    "reliability": "Abstain below a confidence threshold: the share of instances it "
    "declines, and the precision of the answers it still gives.",
}
MISSING = {
    "coverage": "no graded instance (quorum bench --grade)",
    "selection-gap": "no graded instance with its candidates and pass matrix",
    "resolve-vs-cost": "no graded instance with its candidates, pass matrix and cost",
    "cost-per-resolved": "no graded instance with its candidates, pass matrix and cost",
    "reliability": "no graded instance with a selection",
}


def render_bench_html(view: BenchView) -> str:
    captions = {name: (PLOTS[name][0], CAPTIONS[name]) for name in PLOTS}
    return _environment(True).get_template("bench_report.html.j2").render(
        bench=view, plots=draw_all(view), captions=captions, missing=MISSING
    )


def write_bench_report(bench_dir: Path, *, out_dir: Path | None = None,
                       strict: bool = False) -> BenchView | None:  # fmt: skip
    """bench_report.html for `bench_dir` into `out_dir` (default: the bench directory),
    and each instance's report.html in its run directory where it lacks one. Unless
    `strict`, a failure to render leaves a page saying so instead of raising: the bench's
    own files are the evidence, and `quorum report BENCH_DIR` rebuilds the page. Written
    elsewhere, its links to the instances' reports lead back into `bench_dir`."""
    target = out_dir or bench_dir
    target.mkdir(parents=True, exist_ok=True)
    try:
        view = build_bench_view(bench_dir)
        for row in view.instances:
            run = bench_dir / row.run_dir if row.run_dir else None
            if run is not None and not (run / HTML).is_file():
                write_reports(run, strict=strict)
            if row.report and target.resolve() != bench_dir.resolve():
                row.report = Path(os.path.relpath(bench_dir / row.report, target)).as_posix()
        html = render_bench_html(view)
    except Exception as exc:
        if strict:
            raise
        why = escape(f"{type(exc).__name__}: {exc}")
        (target / BENCH_HTML).write_text(f"<!doctype html><meta charset=utf-8><title>Quorum "
                                         f"bench</title><p>The bench report could not be "
                                         f"rendered ({why}).</p>\n")  # fmt: skip
        return None
    (target / BENCH_HTML).write_text(html)
    return view
