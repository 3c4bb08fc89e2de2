"""The run-wide budget of `quorum bench --budget-usd-total`, owned by the driver.

The rule, applied when an instance is about to start (never before: what the others spend
meanwhile counts):

    cap = min(--budget-usd, spent_before + left / pending)
    left = total - spent by finished instances - caps of instances in flight
           - what pending instances already spent in earlier processes

`pending` counts the instances not started yet, this one included, and `spent_before` is
this instance's own spend from an earlier, interrupted process (its ledger restores it, so
the cap must include it). An instance in flight is counted at its cap, the worst case (its
ledger never lets it cross it), so the total holds whatever the concurrency or executor.
When one finishes its cap is replaced by what it spent: what an instance settled early
(consensus, adaptive) leaves unspent is shared by those still to start. With nothing left
and nothing in flight to free some, an instance is not started and not recorded, so a
rerun with a larger total runs it. Spend is read from disk, never carried over in memory:
finished instances' records and every run directory's spend.jsonl (the ledger's journal),
so a resumed bench holds the same total."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from pathlib import Path

from agent.llm.ledger import Charge
from envs.instances import Instance
from envs.loader import load_records

PICO = 10**12
EPS_USD = 1e-9  # below this a share pays for nothing


def journal_usd(run_dir: Path) -> float:
    """What an instance's run has paid so far (its spend.jsonl; 0 if it never started).
    Read only: a line cut short by a crash is the run's own to repair when it resumes."""
    path = run_dir / "spend.jsonl"
    if not path.is_file():
        return 0.0
    loaded = load_records(path, Charge, what="spend journal", tolerate_truncated_tail=True)
    return sum(c.pico_usd for c in loaded.records) / PICO


class RunBudget:
    """Caps instances as they start. With `total=None` every instance gets `per_instance`
    and none is held back: the bench without a run-wide budget."""

    def __init__(self, total: float | None, per_instance: float | None, *,
                 finished: Mapping[str, float] | None = None,
                 pending: Mapping[str, float] | None = None) -> None:  # fmt: skip
        """`finished`: instance id -> what it spent; `pending`: id -> what an earlier
        process of it spent (0 for a fresh one)."""
        self.total, self.per_instance = total, per_instance
        self.spent = dict(finished or {})
        self.pending = dict(pending or {})
        self.in_flight: dict[str, float] = {}  # id -> cap
        self.skipped: list[str] = []
        self._changed = asyncio.Event()

    @classmethod
    def from_disk(cls, total: float | None, per_instance: float | None, out: Path,
                  finished: Mapping[str, float], todo: Iterable[str]) -> RunBudget:  # fmt: skip
        """`finished`: the records' cost; a run directory's journal wins where it says more
        (an error record carries no cost, but its calls were paid for)."""
        runs = out / "runs"
        return cls(
            total, per_instance,
            finished={i: max(usd, journal_usd(runs / i)) for i, usd in finished.items()},
            pending={i: journal_usd(runs / i) for i in todo},
        )  # fmt: skip

    def left(self) -> float | None:
        if self.total is None:
            return None
        used = sum(self.spent.values()) + sum(self.in_flight.values())
        return self.total - used - sum(self.pending.values())

    def cap_now(self, instance_id: str) -> float | None:
        """The cap this instance would start with now (the rule above)."""
        left = self.left()
        if left is None:
            return self.per_instance
        before = self.pending.get(instance_id, 0.0)
        share = before + max(left, 0.0) / max(len(self.pending), 1)
        return share if self.per_instance is None else min(self.per_instance, share)

    async def admit(self, instance_id: str) -> tuple[bool, float | None]:
        """(start it, its cap). Waits while the total is used up but instances in flight
        may free some; (False, 0) once nothing can."""
        while True:
            left = self.left()
            if left is None or left > EPS_USD or not self.in_flight:
                break
            changed = self._changed
            await changed.wait()
        if left is not None and left <= EPS_USD:
            self.pending.pop(instance_id, None)
            self.skipped.append(instance_id)
            return False, 0.0
        cap = self.cap_now(instance_id)
        self.pending.pop(instance_id, None)
        self.in_flight[instance_id] = cap or 0.0
        return True, cap

    def finished(self, instance_id: str, spent_usd: float) -> None:
        self.in_flight.pop(instance_id, None)
        self.spent[instance_id] = spent_usd
        self._wake()

    def abandoned(self, instance_id: str) -> None:
        """Stopped without a record (engine lost, interrupted): its cap stays counted, the
        worst case, since its spend is not known here."""
        if instance_id in self.in_flight:
            self.spent[instance_id] = self.in_flight.pop(instance_id)
            self._wake()

    def _wake(self) -> None:
        changed, self._changed = self._changed, asyncio.Event()
        changed.set()

    def summary(self) -> dict:
        """bench_report.json's view of the run-wide budget (None without one)."""
        if self.total is None:
            return {}
        return {
            "budget_usd_total": self.total,
            "budget_usd_left": round(max(self.left() or 0.0, 0.0), 6),
            "budget_skipped_ids": sorted(self.skipped),
        }


async def run_admitted(
    todo: Sequence[Instance],
    workers: int,
    budget: RunBudget,
    start: Callable[[Instance, float | None], Awaitable[object]],
) -> None:
    """At most `workers` instances at once, each capped by `budget` when it takes a slot;
    `start(instance, cap)` runs it to its record (and hands the record on itself)."""
    gate = asyncio.Semaphore(workers)

    async def one(inst: Instance) -> None:
        async with gate:
            go, cap = await budget.admit(inst.instance_id)
            if not go:
                return
            try:
                await start(inst, cap)
            finally:
                budget.abandoned(inst.instance_id)  # a no-op once its record came back

    runs = [asyncio.ensure_future(one(i)) for i in todo]
    try:
        await asyncio.gather(*runs)
    finally:  # a failure or Ctrl-C stops the others too
        for run in runs:
            run.cancel()
        await asyncio.gather(*runs, return_exceptions=True)
