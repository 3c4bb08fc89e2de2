"""The one renderer of a run's evidence: a view-model built from the run directory alone
(`view`), drawn by jinja2 templates as report.html and report.md (`render`). `quorum solve`,
`quorum select`, the demo and `quorum report RUN_DIR` all write through `write_reports`."""

from quorum.report.render import HTML, MARKDOWN, render_html, render_markdown, write_reports
from quorum.report.view import RunView, build_view

__all__ = [
    "HTML",
    "MARKDOWN",
    "RunView",
    "build_view",
    "render_html",
    "render_markdown",
    "write_reports",
]
