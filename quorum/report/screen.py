"""The demo's last screen: one terminal page (at most 40 lines of 100 columns) drawn from
the run report's view, through the report's renderer: the candidates and which generated
test each passes, which were merged as the same patch or behaviour, the chosen patch's
diff (as much as fits), the confidence, every candidate's verdict on the hidden tests,
time, tokens and where the whole report is."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from agent.llm.embedded_perf import ModelTime
from quorum.report.render import render_text
from quorum.report.view import CandidateView, DiffLine, RunView

WIDTH, HEIGHT = 100, 40
MARKS = {"pass": "✓", "fail": "✗", "error": "!", "quarantined": "~", "absent": "·"}
TEMPLATE = "demo_screen.txt.j2"
MAX_TEST_COLUMNS = 16  # generated tests shown one by one; the rest are counted


@dataclass
class ScreenRow:
    label: str
    cluster: str
    marks: list[str]  # one per shown generated test
    repository: str  # "k/n" of the repository's tests, "" when none ran
    hidden: str  # pass, FAIL, or "" (the unpatched code)
    note: str = ""  # why a candidate has no row of marks


@dataclass
class ScreenView:
    run: RunView
    headline: str
    columns: list[str]
    more_columns: int
    rows: list[ScreenRow]
    merged: list[str]  # "A: r0-t0, r0-t2" for clusters of two or more
    behaviours: list[str]
    chosen: CandidateView | None
    diff: list[DiffLine] = field(default_factory=list)
    diff_hidden: int = 0  # diff lines that did not fit
    hidden_line: str = ""
    report: str = ""
    wall_s: float | None = None
    model_time: ModelTime | None = None


def render_demo_screen(view: RunView, hidden: Mapping[str, bool], report: Path, *,
                       wall_s: float | None = None, model_time: ModelTime | None = None,
                       width: int = WIDTH, height: int = HEIGHT) -> str:
    """The screen as text; `hidden` is each candidate's verdict on the hidden tests,
    `wall_s` the solve's time, `model_time` the embedded server's share of it."""
    screen = _screen(view, hidden, report, wall_s)
    screen.model_time = model_time
    without_diff = render_text(TEMPLATE, screen=screen).splitlines()
    # the diff gets the lines the rest leaves (one of them the note, when it is cut short)
    room = height - len(without_diff)
    if screen.chosen is not None and room > 0:
        # git's header lines say what the title line says already
        lines = [d for d in screen.chosen.diff
                 if not d.text.startswith(("diff --git ", "index "))]
        keep = len(lines) if len(lines) <= room else max(room - 1, 0)
        screen.diff, screen.diff_hidden = lines[:keep], len(lines) - keep
    text = render_text(TEMPLATE, screen=screen).splitlines()[:height]
    return "\n".join(_fit(line, width) for line in text) + "\n"


def _screen(view: RunView, hidden: Mapping[str, bool], report: Path,
            wall_s: float | None) -> ScreenView:
    outcome = view.outcome
    solvers = [c for c in view.candidates if c.role == "solver"]
    chosen = next((c for c in solvers if c.chosen), None)
    if outcome.state == "chosen" and outcome.chosen:
        confidence = ("" if outcome.confidence is None
                      else f" with confidence {outcome.confidence:.2f}")
        verdict = hidden.get(outcome.chosen)
        said = {True: "it passes the hidden tests", False: "it FAILS the hidden tests",
                None: "not graded on hidden tests"}[verdict]
        headline = f"Selected {outcome.chosen}{confidence} ({outcome.method}): {said}."
    elif outcome.state == "abstained":
        headline = "Quorum abstained: the evidence did not single out a patch."
    else:
        headline = "No selection was recorded (see the report)."
    columns, rows, more = _rows(view, solvers, hidden)
    good = sum(bool(hidden.get(c.id)) for c in solvers)
    rate = f"{good / len(solvers):.2f}" if solvers else "absent"
    return ScreenView(
        run=view, headline=headline, columns=columns, more_columns=more, rows=rows,
        merged=_merged(solvers), behaviours=_behaviours(view), chosen=chosen,
        hidden_line=f"{good} of {len(solvers)} candidates pass the hidden tests "
                    f"(pass@1 {rate})",
        report=str(report), wall_s=wall_s,
    )  # fmt: skip


def _rows(view: RunView, solvers: list[CandidateView],
          hidden: Mapping[str, bool]) -> tuple[list[str], list[ScreenRow], int]:
    matrix = view.matrix
    shown = [i for i, c in enumerate(matrix.columns) if c.group == "generated"] if matrix else []
    more = max(len(shown) - MAX_TEST_COLUMNS, 0)
    shown = shown[:MAX_TEST_COLUMNS]
    repo = [i for i, c in enumerate(matrix.columns) if c.group == "repository"] if matrix else []
    by_id = {r.id: r for r in matrix.rows} if matrix else {}
    rows: list[ScreenRow] = []
    unpatched = next((r for r in matrix.rows if r.label == "unpatched"), None) if matrix else None
    if unpatched is not None:
        rows.append(_row("unpatched", "", unpatched.cells, shown, repo, ""))
    for cand in solvers:
        verdict = "" if cand.id not in hidden else ("pass" if hidden[cand.id] else "FAIL")
        label = f"{cand.id} *" if cand.chosen else cand.id
        row = by_id.get(cand.id)
        if row is None:
            why = "no patch" if not cand.has_patch else "not in the test matrix"
            rows.append(ScreenRow(label, cand.cluster or "-", [], "", verdict or "-", why))
        else:
            rows.append(_row(label, cand.cluster or "-", row.cells, shown, repo, verdict))
    labels = [matrix.columns[i].label for i in shown] if matrix else []
    return labels, rows, more


def _row(label: str, cluster: str, cells: list[tuple[str, str]], shown: list[int],
         repo: list[int], hidden: str) -> ScreenRow:
    marks = [MARKS.get(cells[i][0], "?") for i in shown]
    passed = sum(cells[i][0] == "pass" for i in repo)
    return ScreenRow(label, cluster, marks, f"{passed}/{len(repo)}" if repo else "", hidden)


def _merged(solvers: list[CandidateView]) -> list[str]:
    clusters: dict[str, list[str]] = {}
    for cand in solvers:
        if cand.cluster:
            clusters.setdefault(cand.cluster, []).append(cand.id)
    return [f"{label}: {', '.join(ids)}" for label, ids in sorted(clusters.items())
            if len(ids) > 1]


def _behaviours(view: RunView) -> list[str]:
    if view.behaviour is None:
        return []
    return [f"{col.label}: {', '.join(col.members)}" for col in view.behaviour.columns
            if col.rep is not None and len(col.members) > 1]


def _fit(line: str, width: int) -> str:
    return line if len(line) <= width else line[: width - 1] + "…"
