"""`quorum show RUN_DIR [--trajectory ID]`: a run in the terminal — the outcome, the
candidates (the same table `quorum solve` draws live, quorum/live.py), the pass matrix as a
coloured grid, the cost, and one trajectory step by step. Built from the same view-model as
report.md and report.html (quorum/report/view.py). A run still going (no selection.json yet)
is followed: redrawn every second until its selection appears, or Ctrl-C."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer
from rich import box
from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.rule import Rule
from rich.text import Text

from quorum.errors import fail
from quorum.live import own_test_arrow, trajectory_table
from quorum.report import RunView, build_view
from quorum.report.allocation import AllocationView
from quorum.report.view import MatrixView, TrajectoryView, check_run_dir
from sandbox.errors import QuorumError

POLL_S = 1.0  # how often a running run is read again
THOUGHT_LINES = 6  # per step, in the terminal; report.html holds more, trajectories/ all
ARGS_LINES = 12
OBSERVATION_LINES = 12
LINE_CHARS = 300
LAST_ACTION = 2  # the candidates table's column that shrinks to fit
CELLS = {  # matrix state -> (glyph, style): readable without colour too
    "pass": ("■", "green"),
    "fail": ("✗", "bold red"),
    "error": ("!", "yellow"),
    "quarantined": ("~", "dim"),
    "absent": ("·", "dim"),
}


def show_command(
    run_dir: Annotated[
        Path, typer.Argument(help="A run directory (quorum solve --out; the demo's run/).")
    ],
    trajectory: Annotated[
        str | None, typer.Option("--trajectory", "-t", help="Show this trajectory step by step.")
    ] = None,
    follow: Annotated[
        bool | None,
        typer.Option(
            "--follow/--no-follow",
            help="Redraw every second until the run's selection.json appears (Ctrl-C stops). "
            "Default: follow on a terminal when the run has no selection.json yet.",
        ),
    ] = None,
    width: Annotated[
        int | None,
        typer.Option(min=40, help="Draw this many columns wide (default: the terminal)."),
    ] = None,
) -> None:
    """Show a run in the terminal: outcome, candidates, the pass matrix, cost, and with
    --trajectory one trajectory step by step. Works on a finished run and on one still
    running (it refreshes)."""
    console = Console(width=width, highlight=False)
    try:
        check_run_dir(run_dir)
        view = build_view(run_dir)
        _check_trajectory(view, trajectory)
    except QuorumError as exc:
        raise fail(exc) from None
    if follow is None:  # a pipe gets the run as it stands; a terminal, the run as it goes
        follow = view.outcome.state == "absent" and console.is_terminal
    if follow and view.outcome.state == "absent":
        view = _follow(console, run_dir, view, trajectory)
    console.print(render(view, trajectory))


def _check_trajectory(view: RunView, trajectory: str | None) -> None:
    known = [t.id for t in view.trajectories]
    if trajectory is not None and trajectory not in known:
        raise QuorumError(
            f"{view.run_dir}: no trajectory {trajectory!r}",
            hint=f"its trajectories: {', '.join(known)}" if known else "it has no trajectories",
        )


def _follow(console: Console, run_dir: Path, view: RunView, trajectory: str | None) -> RunView:
    """Redraw until selection.json appears (the view with it) or Ctrl-C (the last view)."""
    live = Live(render(view, trajectory, True), console=console, auto_refresh=False, transient=True)
    try:  # around the whole of it: Ctrl-C may come while the first frame is drawn
        with live:
            while view.outcome.state == "absent":
                time.sleep(POLL_S)
                view = build_view(run_dir)
                live.update(render(view, trajectory, True), refresh=True)
    except KeyboardInterrupt:
        live.stop()
    return view


# -- drawing -------------------------------------------------------------------------------
def render(view: RunView, trajectory: str | None = None, following: bool = False) -> RenderableType:
    parts: list[RenderableType] = [_header(view), _outcome(view, following)]
    if view.allocation is not None:
        parts.append(_allocation(view.allocation))
    parts.append(_candidates(view))
    if view.matrix is not None:
        parts.append(_matrix(view.matrix))
    parts.append(_cost(view))
    chosen = next((t for t in view.trajectories if t.id == trajectory), None)
    if chosen is not None:
        parts.append(_trajectory(chosen))
    elif view.trajectories:
        parts.append(
            Text(
                f"--trajectory ID shows one step by step "
                f"({', '.join(t.id for t in view.trajectories)})",
                style="dim",
            )
        )
    for note in view.notes:
        parts.append(Text(f"note: {note}", style="yellow"))
    return Group(*parts)


def _header(view: RunView) -> RenderableType:
    title = f"quorum show — {view.run_dir}"
    if view.task_id:
        title += f" · {view.task_id}"
    lines = [Rule(title, style="cyan")]
    if view.title:
        lines.append(Text(view.title, style="bold"))
    return Group(*lines)


def _outcome(view: RunView, following: bool) -> Text:
    out = view.outcome
    if out.state == "absent":
        then = (
            f"refreshing every {POLL_S:g}s until it appears (Ctrl-C to stop)"
            if following
            else "--follow redraws it until its selection appears"
        )
        return Text.assemble(("running", "bold yellow"), f" — no selection.json yet; {then}")
    text = Text()
    if out.state == "chosen":
        text.append(f"chosen {out.chosen}", style="bold green")
        if out.chosen_model:
            text.append(f" ({out.chosen_model})")
    else:
        text.append("abstained", style="bold yellow")
    if out.confidence is not None:
        text.append(f" · confidence {out.confidence:.2f}")
    if out.method:
        text.append(f" · {out.method}")
    if out.rationale:
        text.append(f"\n{out.rationale}", style="dim")
    return text


def _allocation(a: AllocationView) -> Text:
    text = Text.assemble(("allocation ", "bold"), (a.policy, "cyan"), " · ")
    text.append(f"sampling stopped: {a.stopped}" if a.stopped else "never stopped sampling")
    planned = "?" if a.planned is None else str(a.planned)
    text.append(f"\n{a.launched} of {planned} trajectories started", style="dim")
    if a.not_started is not None:
        text.append(f" · {a.not_started} never started", style="dim")
    text.append(f" · {a.cancelled} cancelled", style="dim")
    if a.cancelled_ids:
        text.append(f" ({', '.join(a.cancelled_ids)})", style="dim")
    return text


def _candidates(view: RunView) -> RenderableType:
    steps = {t.id: t for t in view.trajectories}
    rows, styles = [], []
    for c in view.candidates:
        traj = steps.get(c.id)
        last = traj.steps[-1].action if traj and traj.steps else "—"
        own = own_test_arrow(c.own_test.before, c.own_test.after) if c.own_test else "—"
        status = c.exit_status or ("running" if not c.recorded else "—")
        tests = (
            f"{c.tests_passed}/{c.tests_total}" if c.tests_total is not None else _n(c.tests_passed)
        )
        broke = (
            f"{c.regressions}/{c.regressions_total}"
            if c.regressions_total is not None
            else _n(c.regressions)
        )
        rows.append(
            (
                c.id,
                _n(c.steps),
                _line(last, 60),
                own,
                f"{c.cost_usd:.4f}" if c.cost_usd is not None else "—",
                status,
                tests,
                broke,
                _f(c.verifier),
                _f(c.score),
                c.cluster or "—",
            )
        )
        styles.append("bold green" if c.chosen else None)
    title = f"candidates ({len(view.solvers)} solvers, {len(view.candidates) - len(view.solvers)}"
    title += " test writers)"
    table = trajectory_table(
        title,
        rows,
        ("tests", "broke", "verif.", "score", "clu."),
        styles,
        box=box.SIMPLE_HEAD,
        pad_edge=False,
        collapse_padding=True,
        title_justify="left",
        expand=True,
    )
    for n, column in enumerate(table.columns):  # one line a row: the last action gives way
        column.no_wrap, column.overflow = True, "ellipsis"
        if n == LAST_ACTION:
            column.ratio = 1
    return table


def _matrix(matrix: MatrixView) -> RenderableType:
    label_w = max(len(r.label) for r in matrix.rows) + 2
    text = Text()
    text.append(
        f"matrix: {len(matrix.rows)} rows × {len(matrix.columns)} tests "
        f"({matrix.generated} generated │ {matrix.repository} repository)\n",
        style="bold",
    )
    for row in matrix.rows:
        mark = "★" if row.chosen else " "
        text.append(f"{mark} {row.label:<{label_w}}", style="bold green" if row.chosen else None)
        text.append(f"{row.cluster or '':<3}", style="cyan")
        for n, (col, (state, _)) in enumerate(zip(matrix.columns, row.cells, strict=False)):
            if n and col.group == "repository" and matrix.columns[n - 1].group != "repository":
                text.append("│", style="dim")
            glyph, style = CELLS.get(state, ("?", "dim"))
            text.append(glyph, style=style)
        text.append("\n")
    for state, (glyph, style) in CELLS.items():
        text.append(glyph, style=style)
        text.append(f" {state} {matrix.counts.get(state, 0)}   ")
    return text


def _cost(view: RunView) -> Text:
    cost = view.cost
    if cost is None or cost.usd is None:
        return Text("cost: absent", style="dim")
    text = Text.assemble(("cost ", "bold"), f"${cost.usd:.4f}")
    if cost.cap_usd:
        text.append(f" of ${cost.cap_usd:g} ({cost.of_cap:.0%})")
    if cost.tokens is not None:
        text.append(f" · {cost.tokens:,} tokens")
    if cost.calls is not None:
        text.append(f" · {cost.calls} calls")
    if cost.refusals:
        text.append(f" · {cost.refusals} refused", style="yellow")
    if cost.by_caller:
        text.append(
            " · " + ", ".join(f"{r.name} ${r.usd or 0:.4f}" for r in cost.by_caller), style="dim"
        )
    return text


def _trajectory(traj: TrajectoryView) -> RenderableType:
    about = [x for x in (traj.model, traj.role, traj.variant) if x]
    if traj.temperature is not None:
        about.append(f"T={traj.temperature:g}")
    about.append(traj.exit_status or "running")
    if traj.cost_usd is not None:
        about.append(f"${traj.cost_usd:.4f}")
    parts: list[RenderableType] = [
        Rule(f"trajectory {traj.id} — {len(traj.steps)} steps", style="cyan"),
        Text(
            " · ".join(about) + (f" — {traj.exit_reason}" if traj.exit_reason else ""), style="dim"
        ),
    ]
    for n, step in enumerate(traj.steps, 1):
        text = Text()
        head = f"step {step.index if step.index is not None else n}"
        extras = [
            f"${step.cost_usd:.4f}" if step.cost_usd is not None else "",
            f"{step.duration_s:.1f}s" if step.duration_s is not None else "",
        ]
        text.append(head, style="bold")
        text.append(" " + " · ".join(e for e in extras if e), style="dim")
        if step.thought:
            text.append("\n  thought  ", style="magenta")
            text.append(_block(step.thought, THOUGHT_LINES))
        text.append("\n  action   ", style="blue")
        text.append(_line(step.action, LINE_CHARS), style="bold" if step.tool else "red")
        if step.args and "\n" in step.args:
            text.append("\n  args     ", style="blue")
            text.append(_block(step.args, ARGS_LINES))
        if step.format_error:
            text.append("\n  error    ", style="red")
            text.append(_block(step.format_error, THOUGHT_LINES))
        if step.observation:
            text.append("\n  observed ", style="green")
            text.append(_block(step.observation, OBSERVATION_LINES))
        parts.append(text)
    return Group(*parts)


def _block(text: str, lines: int) -> str:
    """At most `lines` lines of `text` (each cut at LINE_CHARS), indented under its label."""
    rows = text.rstrip().splitlines() or [""]
    shown = [_line(r, LINE_CHARS) for r in rows[:lines]]
    if len(rows) > lines:
        shown.append(f"… {len(rows) - lines} more lines")
    return "\n           ".join(shown)


def _line(text: str, chars: int) -> str:
    first = text.splitlines()[0] if text else ""
    more = first != text.rstrip()
    if len(first) > chars:
        first, more = first[: chars - 1], True
    return first + ("…" if more else "")


def _n(value: int | None) -> str:
    return "—" if value is None else str(value)


def _f(value: float | None) -> str:
    return "—" if value is None else f"{value:.2f}"
