"""Property: under random concurrent mixes of calls, sizes and failures, the ledger never
lets spend cross a cap, and spending stops only when the smallest possible next call no
longer fits. Real threads (and asyncio tasks) hammer one ledger; a monitor thread checks the
invariant while they run."""

from __future__ import annotations

import asyncio
import math
import random
import threading
from dataclasses import dataclass

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.llm import BudgetCaps, BudgetExhausted, Ledger, ModelPricing, Price, Usage

TRAJECTORIES = ["t0", "t1", "t2"]


@dataclass(frozen=True)
class Call:
    prompt: int
    max_tokens: int
    outcome: str  # settle | release | billed
    used: float  # share of the reservation the server actually used
    cached: float
    trajectory: str
    caller: str


calls = st.builds(
    Call,
    prompt=st.integers(1, 4_000),
    max_tokens=st.integers(1, 3_000),
    outcome=st.sampled_from(["settle"] * 6 + ["release", "billed"]),
    used=st.floats(0, 1),
    cached=st.floats(0, 1),
    trajectory=st.sampled_from(TRAJECTORIES),
    caller=st.sampled_from(["agent", "test_writer", "verifier"]),
)

caps = st.builds(
    BudgetCaps,
    run_usd=st.integers(500, 100_000).map(lambda micro: micro / 1e6),
    run_tokens=st.none() | st.integers(2_000, 200_000),
    trajectory_usd=st.none() | st.integers(300, 50_000).map(lambda micro: micro / 1e6),
    trajectory_tokens=st.none() | st.integers(1_000, 100_000),
    min_output_tokens=st.integers(1, 16),
)

prices = st.builds(
    lambda i, c, o: ModelPricing(price=Price(input=i, cached_input=min(c, i), output=o)),
    st.sampled_from([0.1, 0.15, 1.0, 2.5, 3.0]),
    st.sampled_from([0.025, 0.075, 0.5, 1.25]),
    st.sampled_from([0.4, 0.6, 4.0, 10.0, 15.0]),
)


def usage_for(call: Call, max_tokens: int) -> Usage:
    prompt = max(1, math.ceil(call.prompt * call.used))
    return Usage(prompt_tokens=prompt, cached_tokens=math.floor(prompt * call.cached),
                 completion_tokens=math.floor(max_tokens * call.used))


class Invariant:
    """Checks, at any moment, that settled + reserved spend is within every cap."""

    def __init__(self, ledger: Ledger, budget: BudgetCaps) -> None:
        self.ledger, self.caps, self.violations = ledger, budget, []

    def check(self) -> None:
        r = self.ledger.report()
        c = self.caps
        if r.total.usd + r.reserved_usd > c.run_usd + 1e-12:
            self.violations.append(f"run usd {r.total.usd} + {r.reserved_usd} > {c.run_usd}")
        if c.run_tokens is not None and r.total.total_tokens > c.run_tokens:
            self.violations.append(f"run tokens {r.total.total_tokens} > {c.run_tokens}")
        for tid, spend in r.by_trajectory.items():
            if c.trajectory_usd is not None and spend.usd > c.trajectory_usd + 1e-12:
                self.violations.append(f"{tid} usd {spend.usd} > {c.trajectory_usd}")
            if c.trajectory_tokens is not None and spend.total_tokens > c.trajectory_tokens:
                self.violations.append(f"{tid} tokens {spend.total_tokens}")


def final_checks(ledger: Ledger, budget: BudgetCaps, inv: Invariant) -> None:
    inv.check()
    assert inv.violations == []
    r = ledger.report()
    assert r.in_flight == 0 and r.reserved_usd == 0
    assert r.overruns == 0
    assert r.total.usd <= budget.run_usd
    assert sum(s.calls for s in r.by_caller.values()) == r.total.calls
    # Spending stopped only because not even the smallest call fits, in every trajectory.
    for tid in TRAJECTORIES:
        assert not ledger.would_fit("probe", "m", tid, 1, budget.min_output_tokens), tid


def run_one(ledger: Ledger, call: Call, inv: Invariant, rng: random.Random) -> bool:
    """One call's life; False when it was refused."""
    try:
        res = ledger.reserve(call.caller, "m", call.trajectory, call.prompt, call.max_tokens,
                             wait=True)
    except BudgetExhausted:
        return False
    inv.check()
    if rng.random() < 0.3:
        threading.Event().wait(rng.random() / 2000)  # let others interleave
    if call.outcome == "settle":
        ledger.settle(res, usage_for(call, res.max_tokens))
    else:
        ledger.release(res, billed=call.outcome == "billed")
    inv.check()
    return True


def drain(ledger: Ledger, inv: Invariant, tid: str, min_out: int, rng: random.Random) -> None:
    """Work remains: keep calling until even the smallest call is refused."""
    while True:
        big = Call(rng.randint(1, 2_000), rng.randint(1, 2_000), "settle", 1.0, 0.0, tid,
                   "agent")
        if run_one(ledger, big, inv, rng):
            continue
        if not run_one(ledger, Call(1, min_out, "settle", 1.0, 0.0, tid, "agent"), inv, rng):
            return


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=caps, pricing=prices, work=st.lists(calls, min_size=1, max_size=120),
       n_threads=st.integers(2, 8), seed=st.integers(0, 2**16))
def test_threads_never_cross_the_cap(budget, pricing, work, n_threads, seed):
    ledger = Ledger(budget, prices={"m": pricing})
    inv = Invariant(ledger, budget)
    todo = list(work)
    lock = threading.Lock()
    stop = threading.Event()

    def monitor() -> None:
        while not stop.is_set():
            inv.check()
            stop.wait(0.0005)

    def worker(i: int) -> None:
        rng = random.Random(seed + i)
        while True:
            with lock:
                if not todo:
                    break
                call = todo.pop()
            run_one(ledger, call, inv, rng)
        for tid in TRAJECTORIES:
            drain(ledger, inv, tid, budget.min_output_tokens, rng)

    watcher = threading.Thread(target=monitor)
    watcher.start()
    workers = [threading.Thread(target=worker, args=(i,)) for i in range(n_threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
        assert not w.is_alive(), "a worker hung"
    stop.set()
    watcher.join()
    final_checks(ledger, budget, inv)


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(budget=caps, pricing=prices, work=st.lists(calls, min_size=1, max_size=120),
       n_tasks=st.integers(2, 16), seed=st.integers(0, 2**16))
def test_asyncio_tasks_never_cross_the_cap(budget, pricing, work, n_tasks, seed):
    ledger = Ledger(budget, prices={"m": pricing})
    inv = Invariant(ledger, budget)

    async def call_once(call: Call, rng: random.Random) -> bool:
        try:
            res = await ledger.areserve(call.caller, "m", call.trajectory, call.prompt,
                                        call.max_tokens)
        except BudgetExhausted:
            return False
        inv.check()
        await asyncio.sleep(rng.random() / 5000)  # the "HTTP call"
        if call.outcome == "settle":
            ledger.settle(res, usage_for(call, res.max_tokens))
        else:
            ledger.release(res, billed=call.outcome == "billed")
        return True

    async def task(i: int, mine: list[Call]) -> None:
        rng = random.Random(seed + i)
        for call in mine:
            await call_once(call, rng)
        for tid in TRAJECTORIES:
            while True:
                big = Call(rng.randint(1, 2_000), rng.randint(1, 2_000), "settle", 1.0, 0.0,
                           tid, "agent")
                if await call_once(big, rng):
                    continue
                small = Call(1, budget.min_output_tokens, "settle", 1.0, 0.0, tid, "agent")
                if not await call_once(small, rng):
                    break

    async def main() -> None:
        await asyncio.wait_for(asyncio.gather(
            *(task(i, work[i::n_tasks]) for i in range(n_tasks))), 30)

    asyncio.run(main())
    final_checks(ledger, budget, inv)


@settings(max_examples=60, deadline=None)
@given(budget=caps, pricing=prices, work=st.lists(calls, min_size=1, max_size=40))
def test_clipping_is_as_generous_as_the_caps_allow(budget, pricing, work):
    """A clipped max_tokens is the largest that fits: one more token would cross a cap."""
    ledger = Ledger(budget, prices={"m": pricing})
    p = pricing.price
    for call in work:
        before = ledger.report()
        try:
            res = ledger.reserve(call.caller, "m", call.trajectory, call.prompt, 10**9)
        except BudgetExhausted:
            continue
        k = res.max_tokens
        traj = before.by_trajectory.get(call.trajectory)
        limits_hit = []
        worst_next = (call.prompt * p.input + (k + 1) * p.output) / 1e6
        limits_hit.append(before.total.usd + worst_next > budget.run_usd + 1e-12)
        if budget.run_tokens is not None:
            limits_hit.append(before.total.total_tokens + call.prompt + k + 1 > budget.run_tokens)
        spent_t = traj.usd if traj else 0.0
        tokens_t = traj.total_tokens if traj else 0
        if budget.trajectory_usd is not None:
            limits_hit.append(spent_t + worst_next > budget.trajectory_usd + 1e-12)
        if budget.trajectory_tokens is not None:
            limits_hit.append(tokens_t + call.prompt + k + 1 > budget.trajectory_tokens)
        assert any(limits_hit), f"clipped to {k} with room for more"
        ledger.settle(res, usage_for(call, k))
