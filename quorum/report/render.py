"""The view-model through jinja2: report.html (self-contained: inline CSS, no script, no
network) and report.md (the terminal's summary, and the body of a pull request)."""

from __future__ import annotations

import re
from html import escape
from pathlib import Path

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from agent.redact import redact
from quorum.report.view import DiffLine, RunView, build_view

HTML, MARKDOWN = "report.html", "report.md"


def _environment(autoescape: bool) -> Environment:
    env = Environment(
        loader=PackageLoader("quorum.report", "templates"),
        autoescape=select_autoescape(["html.j2"]) if autoescape else False,
        undefined=StrictUndefined,  # a template naming a field the view lacks is a bug
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.globals["cluster_colour"] = cluster_colour
    formats = {"usd": usd, "pct": pct, "num": num, "score": score, "seconds": seconds}
    env.filters.update(formats, md=md_cell, fence=fence, code=code_span)
    env.globals.update(formats)  # `v(value, usd)`: a format passed to a macro
    return env


CLUSTER_COLOURS = ["#0969da", "#8250df", "#bf3989", "#1b7c83", "#9a6700", "#bc4c00", "#57606a"]


def cluster_colour(label: str) -> str:
    """A steady colour per cluster letter (A is the chosen candidate's cluster)."""
    index = 0
    for ch in label:
        index = index * 26 + (ord(ch) - ord("A") + 1)
    return CLUSTER_COLOURS[(index - 1) % len(CLUSTER_COLOURS)]


def usd(value: float | None) -> str:
    if value is None:
        return "absent"
    if value == 0:
        return "$0"
    if abs(value) >= 1 or round(value, 2) == value:  # a cap of $0.25 reads as such
        return f"${value:,.2f}"
    return f"${value:.4f}"


def pct(value: float | None, digits: int = 0) -> str:
    return "absent" if value is None else f"{100 * value:.{digits}f}%"


def num(value: int | float | None) -> str:
    return "absent" if value is None else f"{value:,}"


def score(value: float | None) -> str:
    return "absent" if value is None else f"{value:.2f}"


def seconds(value: float | None) -> str:
    if value is None:
        return "absent"
    if value < 60:
        return f"{value:.1f} s"
    minutes, secs = divmod(round(value), 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    return f"{minutes // 60} h {minutes % 60:02d} min"


def md_cell(value: object) -> str:
    """A value inside a markdown table cell: one line, pipes escaped."""
    return " ".join(str(value).split()).replace("|", "\\|")


def code_span(value: object) -> str:
    """Inline code in a markdown table cell: delimited by one backtick more than the longest
    run inside (padded where it starts or ends with one), so untrusted text — a candidate's
    output — can never close it and render as markdown or HTML."""
    text = md_cell(value)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    ticks = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") or longest else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def fence(lines: list[DiffLine]) -> str:
    """A code fence longer than any run of backticks in the text it holds."""
    longest = max((len(run) for line in lines for run in re.findall(r"`+", line.text)), default=0)
    return "`" * max(3, longest + 1)


def render_html(view: RunView) -> str:
    return _environment(True).get_template("report.html.j2").render(run=view)


def render_markdown(view: RunView) -> str:
    return _environment(False).get_template("report.md.j2").render(run=view)


GITHUB_BODY_LIMIT = 65_536  # characters GitHub accepts in an issue, comment or PR body
_CUT = "\n\n[truncated: the run's report.md holds the whole evidence]\n"


def render_pr_body(view: RunView, *, note: str = "", limit: int = GITHUB_BODY_LIMIT) -> str:
    """The body of the draft pull request the GitHub App opens: report.md's evidence (the
    candidates x tests grid, clusters and votes, verifier scores, rationale, confidence,
    cost against the cap), redacted and within GitHub's body limit."""
    return _github_text("pull", view, note, limit)


def render_abstention_comment(
    view: RunView, *, note: str = "", limit: int = GITHUB_BODY_LIMIT
) -> str:
    """The App's comment when Quorum abstains: why, with the same evidence."""
    return _github_text("abstention", view, note, limit)


def _github_text(kind: str, view: RunView, note: str, limit: int) -> str:
    template = _environment(False).get_template("pr_body.md.j2")
    text = ""
    for rows in (60, 12, 3):  # a grid too tall for the limit loses rows before anything else
        text = redact(template.render(run=view, kind=kind, note=note, max_rows=rows))
        if len(text) <= limit:
            return text
    return text[: limit - len(_CUT)] + _CUT


def write_reports(
    run_dir: Path,
    *,
    out_dir: Path | None = None,
    selection_file: Path | None = None,
    strict: bool = False,
) -> RunView | None:
    """report.md and report.html for `run_dir`, from its files alone, into `out_dir`
    (default: the run directory). A run's evidence is never lost over its report: unless
    `strict`, a failure to render writes a short report saying so (rebuild it with
    `quorum report RUN_DIR`) rather than raising."""
    target = out_dir or run_dir
    target.mkdir(parents=True, exist_ok=True)
    try:
        view = build_view(run_dir, selection_file=selection_file)
        markdown, html = render_markdown(view), render_html(view)
    except Exception as exc:
        if strict:
            raise
        why = f"{type(exc).__name__}: {exc}"
        (target / MARKDOWN).write_text(f"# Quorum run\n\nThe report could not be rendered "
                                       f"({why}); the run directory holds the evidence.\n")
        (target / HTML).write_text(f"<!doctype html><meta charset=utf-8><title>Quorum run"
                                   f"</title><p>The report could not be rendered "
                                   f"({escape(why)}).</p>\n")
        return None
    (target / MARKDOWN).write_text(markdown)
    (target / HTML).write_text(html)
    return view


def render_text(template: str, **context: object) -> str:
    """A plain-text template of the report's (the demo's last screen), unescaped."""
    return _environment(False).get_template(template).render(**context)
