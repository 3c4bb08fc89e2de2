"""`quorum bench --budget-usd-total`: the driver caps each instance as it starts (what is
left, shared over the instances still to start; in flight counted at its cap), so the
total holds at any concurrency, on the local pool and on Ray; what a settled instance
leaves goes to the later ones; a resumed bench reads what was spent from disk.

The executors here are stand-ins of the `Executor` protocol that spend like a solve does:
they journal their charges in the run directory's spend.jsonl and return a record."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from pathlib import Path

import pytest

from agent.llm import Charge
from envs.instances import Instance
from quorum.bench import BenchOptions, InstanceRecord, capped, read_records, run_bench
from quorum.bench_budget import PICO, RunBudget, run_admitted
from quorum.bench_ray import RayExecutor
from quorum.solve import SolveOptions


def _instances(n: int) -> list[Instance]:
    return [Instance(instance_id=f"i{k}", repo="o/r", base_commit="0" * 40,
                     problem_statement="p") for k in range(n)]  # fmt: skip


def _spend(out: Path, instance_id: str, usd: float) -> None:
    """What a solve's ledger leaves in its run directory for `usd` of calls."""
    run = out / "runs" / instance_id
    run.mkdir(parents=True, exist_ok=True)
    charge = Charge(caller="agent", model="m", pico_usd=round(usd * PICO))
    with (run / "spend.jsonl").open("a") as f:
        f.write(charge.model_dump_json() + "\n")


class Interrupted(Exception):
    pass


class SpendingExecutor:
    """Runs each admitted instance for `hold_s`, spending `share` of its cap."""

    def __init__(self, options: BenchOptions, share: Sequence[float], hold_s: float = 0.05,
                 stop_after: int | None = None) -> None:  # fmt: skip
        self.options, self.share, self.hold_s = options, list(share), hold_s
        self.stop_after = stop_after
        self.caps: dict[str, float | None] = {}
        self.peak_committed = 0.0

    async def run(self, todo, endpoints, done, budget=None) -> None:
        started = 0

        async def one(inst: Instance, cap: float | None) -> None:
            nonlocal started
            started += 1
            if self.stop_after is not None and started > self.stop_after:
                raise Interrupted  # the bench is stopped here, this instance unrecorded
            self.caps[inst.instance_id] = cap
            committed = sum(budget.spent.values()) + sum(budget.in_flight.values())
            self.peak_committed = max(self.peak_committed, committed)
            usd = (cap or 0.0) * self.share[int(inst.instance_id[1:])]
            _spend(self.options.out, inst.instance_id, usd)
            await asyncio.sleep(self.hold_s)
            options = capped(self.options, cap)
            done(
                InstanceRecord(
                    instance_id=inst.instance_id,
                    status="patch",
                    cost_usd=usd,
                    options={"solve": options.solve.model_dump(mode="json")},
                )
            )

        await run_admitted(todo, self.options.workers, budget, one)


def _options(out: Path, total: float | None, per: float | None, workers: int = 1,
             **extra) -> BenchOptions:  # fmt: skip
    return BenchOptions(out=out, workers=workers, budget_usd_total=total,
                        solve=SolveOptions(budget_usd=per), **extra)  # fmt: skip


def test_each_cap_is_the_fair_share_of_what_is_left_and_savings_flow_on(tmp_path: Path) -> None:
    options = _options(tmp_path / "b", total=4.0, per=None)
    runner = SpendingExecutor(options, share=[0.25, 1.0, 1.0, 1.0])
    report = asyncio.run(run_bench(_instances(4), [], options, executor=runner))
    # i0 gets 4/4 and spends a quarter; the 0.75 it left is shared by the three after it
    assert runner.caps["i0"] == pytest.approx(1.0)
    assert runner.caps["i1"] == pytest.approx(3.75 / 3)
    assert runner.caps["i2"] == pytest.approx(1.25) and runner.caps["i3"] == pytest.approx(1.25)
    assert report["cost_usd"] == pytest.approx(4.0) and report["budget_skipped_ids"] == []
    records = read_records(tmp_path / "b")
    assert records["i1"].options["solve"]["budget_usd"] == pytest.approx(1.25)


def test_the_per_instance_cap_still_holds_under_the_total(tmp_path: Path) -> None:
    options = _options(tmp_path / "b", total=10.0, per=0.5)
    runner = SpendingExecutor(options, share=[1.0, 1.0])
    asyncio.run(run_bench(_instances(2), [], options, executor=runner))
    assert runner.caps == {"i0": 0.5, "i1": 0.5}


def test_in_flight_instances_count_at_their_cap_so_concurrency_cannot_cross_it(
    tmp_path: Path,
) -> None:
    options = _options(tmp_path / "b", total=3.0, per=None, workers=4)
    runner = SpendingExecutor(options, share=[1.0, 0.1, 1.0, 0.5, 1.0, 1.0, 1.0, 1.0])
    report = asyncio.run(run_bench(_instances(8), [], options, executor=runner))
    assert runner.peak_committed <= 3.0 + 1e-9
    assert report["cost_usd"] <= 3.0 + 1e-9
    # the first four start together, each on its share of all of it: 3/8, then 2.625/7...
    assert runner.caps["i0"] == pytest.approx(3 / 8)
    assert runner.caps["i1"] == pytest.approx((3 - 3 / 8) / 7)


def test_nothing_left_means_not_started_and_not_recorded() -> None:
    budget = RunBudget(1.0, None, finished={"done": 1.0}, pending={"late": 0.0})

    async def never(inst: Instance, cap: float | None) -> None:
        raise AssertionError("started with nothing left")

    asyncio.run(run_admitted([Instance(instance_id="late", repo="o/r", base_commit="0" * 40,
                                       problem_statement="p")], 1, budget, never))  # fmt: skip
    assert budget.skipped == ["late"] and budget.left() == 0


def test_a_resumed_bench_reads_the_spend_from_disk(tmp_path: Path) -> None:
    out = tmp_path / "b"
    options = _options(out, total=3.0, per=None)
    # First process: i0 finishes (spends 0.5 of its 1.0), i1 starts, spends, is killed.
    first = SpendingExecutor(options, share=[0.5, 1.0, 1.0], stop_after=1)
    with pytest.raises(Interrupted):
        asyncio.run(run_bench(_instances(3), [], options, executor=first))
    _spend(out, "i1", 0.25)  # what i1 paid before the kill, in its journal
    assert set(read_records(out)) == {"i0"}
    # Second process, nothing in memory: left = 3 - 0.5 - 0.25 (i1's earlier spend) over
    # two instances; i1's cap includes what it already spent (its ledger restores it).
    second = SpendingExecutor(options, share=[0.5, 0.0, 1.0])
    asyncio.run(run_bench(_instances(3), [], options, executor=second))
    assert second.caps["i1"] == pytest.approx(0.25 + 2.25 / 2)
    assert second.caps["i2"] == pytest.approx(3.0 - 0.5 - 0.25)


def test_an_error_record_counts_what_its_journal_says(tmp_path: Path) -> None:
    out = tmp_path / "b"
    _spend(out, "e", 0.75)
    budget = RunBudget.from_disk(1.0, None, out, {"e": 0.0}, ["next"])
    assert budget.cap_now("next") == pytest.approx(0.25)


def _standin_solve(inst: Instance, models: list, options: BenchOptions) -> InstanceRecord:
    """A Ray task of `solve_on_node`'s signature that spends its whole cap (the worst
    case) and journals it in its run directory, as a solve's ledger would."""
    cap = options.solve.budget_usd or 0.0
    run = options.out / "runs" / inst.instance_id
    run.mkdir(parents=True, exist_ok=True)
    charge = Charge(caller="agent", model="m", pico_usd=round(cap * PICO))
    (run / "spend.jsonl").write_text(charge.model_dump_json() + "\n")
    time.sleep(0.3)  # long enough for the two workers to overlap
    return InstanceRecord(
        instance_id=inst.instance_id,
        status="patch",
        cost_usd=cap,
        options={"solve": options.solve.model_dump(mode="json")},
    )


@pytest.mark.slow
def test_the_total_holds_under_the_ray_executor(tmp_path: Path) -> None:
    """A local Ray: each task is submitted with the cap the driver computed, and tasks
    spending their whole cap, two at a time, never cross the total."""
    options = _options(tmp_path / "b", total=1.0, per=None, workers=2, executor="ray")
    runner = RayExecutor(options, solve_fn=_standin_solve)
    report = asyncio.run(run_bench(_instances(4), [], options, executor=runner))
    records = read_records(tmp_path / "b")
    assert set(records) == {"i0", "i1", "i2", "i3"}
    caps = [r.options["solve"]["budget_usd"] for r in records.values()]
    assert all(c == pytest.approx(0.25) for c in caps)  # worst case spent: no saving
    assert report["cost_usd"] == pytest.approx(1.0) and report["cost_usd"] <= 1.0 + 1e-9
