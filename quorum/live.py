"""What a person watches during `quorum solve`: a live table on a terminal, plain log
lines elsewhere (CI logs, pipes)."""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from typing import Any

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from agent.llm import Ledger
from agent.rollout import RolloutEvents
from agent.trajectory import Step, Trajectory, TrajectorySpec
from envs.candidate import Candidate

# The trajectory table's columns, shared with `quorum show` (quorum/commands/show.py).
COLUMNS = ("trajectory", "step", "last action", "test", "cost $", "status")


def own_test_arrow(before: str | None, after: str | None) -> str:
    """A candidate's own test, unpatched -> patched: `fail→pass` (`?`, `—`: not run)."""
    return f"{before or '?'}→{after or '—'}"


def trajectory_table(
    title: str, rows: Iterable[Sequence[str]], extra: Sequence[str] = (),
    styles: Sequence[str | None] = (), **options: Any,
) -> Table:  # fmt: skip
    """The table `quorum solve` draws live: one row per trajectory, COLUMNS then `extra`;
    `styles` (one per row, optional) styles whole rows; `options` go to rich's Table."""
    table = Table(title=title, **options)
    for column in (*COLUMNS, *extra):
        table.add_column(column)
    for n, row in enumerate(rows):
        table.add_row(*row, style=styles[n] if n < len(styles) else None)
    return table


class _Row:
    def __init__(self, spec: TrajectorySpec) -> None:
        self.spec = spec
        self.step = 0
        self.action = "starting"
        self.tests = ""
        self.cost = 0.0
        self.status = "running"


class SolveView(RolloutEvents):
    def __init__(self, console: Console, ledger_cap_usd: float | None) -> None:
        self.console = console
        self.cap = ledger_cap_usd
        self.rows: dict[str, _Row] = {}
        self.ledger: Ledger | None = None
        self._t0 = time.monotonic()
        self._live: Live | None = None
        self._tests: tuple[int, int] | None = None  # (done, total) of the pass matrix

    def __enter__(self) -> SolveView:
        if self.console.is_terminal:
            self._live = Live(self._render(), console=self.console, refresh_per_second=4)
            self._live.__enter__()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self._live is not None:
            self._live.update(self._render())
            self._live.__exit__(*exc)

    def tests_run(self, done: int, total: int) -> None:
        """The pass matrix's progress (selection.matrix.build_matrix's `progress`): a bar
        under the table on a terminal; elsewhere the phase's own plain line suffices."""
        self._tests = (done, total)
        if self._live is not None:
            self._live.update(self._render())

    def log(self, message: str) -> None:
        self.console.print(message, highlight=False)

    def started(self, spec: TrajectorySpec) -> None:
        self.rows[spec.id] = _Row(spec)
        self._changed(
            f"{spec.id}: started ({spec.role}, T={spec.temperature:g}, {spec.prompt_variant})"
        )

    def step(self, traj: Trajectory, step: Step) -> None:
        row = self.rows.setdefault(traj.id, _Row(traj.spec))
        row.step, row.cost = step.index, traj.cost_usd
        row.action = step.tool or f"format error: {(step.format_error or '')[:40]}"
        if step.tool == "bash":
            row.action = f"bash: {str(step.args.get('command', ''))[:50]}"
        self._changed(f"{traj.id} step {step.index}: {row.action}")

    def finished(self, traj: Trajectory, candidate: Candidate | None) -> None:
        row = self.rows.setdefault(traj.id, _Row(traj.spec))
        row.status = traj.exit.status if traj.exit else "unfinished"
        row.cost = traj.cost_usd
        if candidate is not None and candidate.test is not None:
            before = candidate.test_on_original
            after = candidate.test_on_patched
            row.tests = own_test_arrow(
                ("pass" if before.passed else "fail") if before else None,
                ("pass" if after.passed else "fail") if after else None,
            )
        self._changed(
            f"{traj.id}: {row.status} after {len(traj.steps)} steps, "
            f"test {row.tests or 'none'}, ${traj.cost_usd:.4f}"
        )

    def _changed(self, line: str) -> None:
        if self._live is not None:
            self._live.update(self._render())
        else:
            self.console.print(
                f"[{time.monotonic() - self._t0:7.1f}s] {line}", highlight=False, markup=False
            )

    def _render(self) -> RenderableType:
        if self._tests is None or self._tests[1] <= 0:
            return self._table()
        done, total = self._tests
        line = Table.grid(padding=(0, 1))
        line.add_row(Text("tests run"), ProgressBar(total=total, completed=done, width=40),
                     Text(f"{done}/{total}"))  # fmt: skip
        return Group(self._table(), line)

    def _table(self) -> Table:
        spent = self.ledger.spent_usd() if self.ledger else sum(r.cost for r in self.rows.values())
        cap = f" of ${self.cap:g}" if self.cap is not None else ""
        return trajectory_table(
            f"quorum solve — ${spent:.4f}{cap} spent, {time.monotonic() - self._t0:.0f}s",
            [(tid, str(row.step), row.action, row.tests or "—", f"{row.cost:.4f}", row.status)
             for tid, row in self.rows.items()],
        )  # fmt: skip
