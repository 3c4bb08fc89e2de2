"""The ledger's reserve / settle / release cycle, caps and reports."""

from __future__ import annotations

import pytest

from agent.llm import (
    BudgetCaps,
    BudgetExhausted,
    Ledger,
    ModelPricing,
    Price,
    UnknownPrice,
    Usage,
)
from agent.llm.ledger import LedgerError

# $1 per 1M input, $0.5 cached, $2 per 1M output: 1 token in = 1 micro-dollar.
PRICED = ModelPricing(price=Price(input=1.0, cached_input=0.5, output=2.0))


def ledger(**caps) -> Ledger:
    return Ledger(BudgetCaps(**caps), prices={"m": PRICED, "free": ModelPricing()})


def test_reservation_is_the_worst_case():
    led = ledger(run_usd=1.0)
    res = led.reserve("agent", "m", "t1", prompt_tokens=1_000, max_tokens=500)
    assert res.max_tokens == 500
    assert res.reserved_usd == pytest.approx((1_000 * 1 + 500 * 2) / 1e6)
    assert res.reserved_tokens == 1_500
    assert led.report().reserved_usd == pytest.approx(res.reserved_usd)
    assert led.in_flight() == 1


def test_max_tokens_clipped_to_remaining_usd():
    led = ledger(run_usd=0.001)  # 1000 micro-dollars
    res = led.reserve("agent", "m", None, prompt_tokens=400, max_tokens=10_000)
    # 1000 - 400 (prompt) = 600 micro-dollars left for output at 2 each
    assert res.max_tokens == 300
    assert res.reserved_usd == pytest.approx(0.001)


def test_max_tokens_clipped_to_remaining_tokens():
    led = ledger(run_tokens=1_000)
    res = led.reserve("agent", "m", None, prompt_tokens=700, max_tokens=10_000)
    assert res.max_tokens == 300


def test_refused_when_minimum_output_does_not_fit():
    led = ledger(run_usd=0.001, min_output_tokens=16)
    led.reserve("agent", "m", "t1", prompt_tokens=400, max_tokens=290)  # 980 reserved
    with pytest.raises(BudgetExhausted) as info:
        led.reserve("test_writer", "m", "t2", prompt_tokens=1, max_tokens=100)
    exit = info.value.exit
    assert (exit.scope, exit.kind, exit.caller, exit.trajectory_id) == (
        "run", "usd", "test_writer", "t2")
    assert exit.reserved == pytest.approx(980e-6)
    assert exit.needed == pytest.approx((1 + 16 * 2) / 1e6)
    assert "budget exhausted" in str(info.value) and "hint:" in str(info.value)
    assert led.report().refusals == 1
    # A call asking for fewer tokens than min_output_tokens needs only what it asks for.
    res = led.reserve("verifier", "m", None, prompt_tokens=1, max_tokens=1)
    assert res.max_tokens == 1


def test_settle_replaces_reservation_with_actual_usage():
    led = ledger(run_usd=1.0)
    res = led.reserve("agent", "m", "t1", prompt_tokens=1_000, max_tokens=500)
    cost = led.settle(res, Usage(prompt_tokens=800, cached_tokens=300, completion_tokens=40))
    assert cost == pytest.approx((500 * 1 + 300 * 0.5 + 40 * 2) / 1e6)
    report = led.report()
    assert report.reserved_usd == 0 and report.in_flight == 0
    assert report.total.usd == pytest.approx(cost)
    assert report.total.total_tokens == 840
    assert led.spent_tokens() == 840
    assert report.overruns == 0


def test_release_frees_the_reservation():
    led = ledger(run_usd=0.001)
    res = led.reserve("agent", "m", None, prompt_tokens=400, max_tokens=10_000)
    with pytest.raises(BudgetExhausted):
        led.reserve("agent", "m", None, prompt_tokens=400, max_tokens=10)
    assert led.release(res) == 0
    again = led.reserve("agent", "m", None, prompt_tokens=400, max_tokens=10)
    assert again.max_tokens == 10
    assert led.spent_usd() == 0


def test_billed_release_charges_the_worst_case():
    led = ledger(run_usd=1.0)
    res = led.reserve("agent", "m", "t1", prompt_tokens=100, max_tokens=50)
    charged = led.release(res, billed=True)
    assert charged == pytest.approx(res.reserved_usd)
    report = led.report()
    assert report.lost_calls == 1 and report.total.usd == pytest.approx(charged)
    assert report.by_trajectory["t1"].total_tokens == 150


def test_a_reservation_closes_once():
    led = ledger()
    res = led.reserve("agent", "m", None, prompt_tokens=1, max_tokens=1)
    led.settle(res, Usage(prompt_tokens=1, completion_tokens=1))
    with pytest.raises(LedgerError, match="already closed"):
        led.release(res)


def test_per_trajectory_caps_are_separate():
    led = ledger(run_usd=1.0, trajectory_usd=0.000_1)  # 100 micro-dollars each
    a = led.reserve("agent", "m", "a", prompt_tokens=50, max_tokens=1_000)
    assert a.max_tokens == 25  # (100 - 50) / 2
    led.settle(a, Usage(prompt_tokens=50, completion_tokens=25))
    with pytest.raises(BudgetExhausted) as info:
        led.reserve("agent", "m", "a", prompt_tokens=10, max_tokens=100)
    assert info.value.exit.scope == "trajectory:a"
    b = led.reserve("agent", "m", "b", prompt_tokens=50, max_tokens=1_000)  # b is untouched
    assert b.max_tokens == 25


def test_per_trajectory_token_cap_and_run_cap_both_apply():
    led = ledger(run_tokens=1_000, trajectory_tokens=600)
    a = led.reserve("agent", "m", "a", prompt_tokens=100, max_tokens=10_000)
    assert a.max_tokens == 500  # trajectory cap binds
    b = led.reserve("agent", "m", "b", prompt_tokens=100, max_tokens=10_000)
    assert b.max_tokens == 300  # run cap binds: 1000 - 600 reserved - 100


def test_report_by_caller_model_and_trajectory():
    led = ledger(run_usd=1.0)
    for caller, model, tid, prompt in [("agent", "m", "t1", 100), ("agent", "m", "t2", 200),
                                       ("test_writer", "m", "t1", 300),
                                       ("verifier", "free", None, 400)]:
        res = led.reserve(caller, model, tid, prompt_tokens=prompt, max_tokens=10)
        led.settle(res, Usage(prompt_tokens=prompt, completion_tokens=10))
    r = led.report()
    assert {k: v.calls for k, v in r.by_caller.items()} == {
        "agent": 2, "test_writer": 1, "verifier": 1}
    assert r.by_caller["agent"].usd == pytest.approx((300 + 40) / 1e6)
    assert r.by_model["free"].usd == 0 and r.by_model["free"].prompt_tokens == 400
    assert r.by_model["m"].calls == 3
    assert r.by_trajectory["t1"].prompt_tokens == 400
    assert "None" not in r.by_trajectory
    assert r.total.calls == 4 and r.total.prompt_tokens == 1_000
    assert r.model_dump()["caps"]["run_usd"] == 1.0  # serialisable for the run report


def test_unknown_model_is_an_error():
    led = ledger(run_usd=1.0)
    with pytest.raises(UnknownPrice, match="no price known for model 'mystery-7b'") as info:
        led.reserve("agent", "mystery-7b", None, prompt_tokens=1, max_tokens=1)
    assert "free: true" in str(info.value)


def test_builtin_model_needs_no_registration():
    led = Ledger(BudgetCaps(run_usd=1.0))
    res = led.reserve("agent", "gpt-4o-mini-2024-07-18", None, prompt_tokens=1_000_000,
                      max_tokens=1)
    assert res.reserved_usd == pytest.approx(0.15 + 0.6e-6)


def test_free_model_counts_tokens_against_token_caps():
    led = ledger(run_usd=0.0, run_tokens=100)
    res = led.reserve("verifier", "free", None, prompt_tokens=60, max_tokens=100)
    assert res.max_tokens == 40 and res.reserved_usd == 0
    led.settle(res, Usage(prompt_tokens=60, completion_tokens=40))
    assert led.spent_tokens() == 100 and led.spent_usd() == 0
    with pytest.raises(BudgetExhausted) as info:
        led.reserve("verifier", "free", None, prompt_tokens=1, max_tokens=1)
    assert info.value.exit.kind == "tokens"


def test_overrun_is_counted_not_hidden():
    led = ledger(run_usd=1.0)
    res = led.reserve("agent", "m", None, prompt_tokens=10, max_tokens=10)
    led.settle(res, Usage(prompt_tokens=50, completion_tokens=10))  # prompt under-counted
    r = led.report()
    assert r.overruns == 1 and r.total.prompt_tokens == 50


def test_register_conflicting_price_is_an_error():
    led = ledger()
    led.register("m", PRICED)  # same price: fine
    with pytest.raises(LedgerError):
        led.register("m", ModelPricing(price=Price(input=9, output=9)))


class FakeClock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_gpu_hour_pricing_charges_shared_busy_time():
    clock = FakeClock()
    led = Ledger(BudgetCaps(run_usd=10.0), prices={"local": ModelPricing(gpu_hour_usd=3.6)},
                 clock=clock)  # $0.001 per GPU-second
    a = led.reserve("agent", "local", "t1", prompt_tokens=100, max_tokens=10, max_seconds=60)
    assert a.reserved_usd == pytest.approx(0.06)  # 60 s worst case
    clock.t = 2.0
    b = led.reserve("agent", "local", "t2", prompt_tokens=100, max_tokens=10, max_seconds=60)
    clock.t = 4.0  # a alone 0-2 s, a and b share 2-4 s
    cost_a = led.settle(a, Usage(prompt_tokens=90, completion_tokens=10))
    clock.t = 5.0
    cost_b = led.settle(b, Usage(prompt_tokens=90, completion_tokens=10))
    assert cost_a == pytest.approx(0.003)  # 2 s + 2 s / 2
    assert cost_b == pytest.approx(0.002)  # 2 s / 2 + 1 s
    r = led.report()
    assert r.gpu_busy_s["local"] == pytest.approx(5.0)  # the GPU-hours bought
    assert r.total.usd == pytest.approx(0.005)
    assert r.total.total_tokens == 200  # tokens counted too


def test_gpu_hour_worst_case_refused_when_it_cannot_fit():
    led = Ledger(BudgetCaps(run_usd=0.01), prices={"local": ModelPricing(gpu_hour_usd=3.6)})
    with pytest.raises(BudgetExhausted):
        led.reserve("agent", "local", None, prompt_tokens=1, max_tokens=1, max_seconds=60)


def test_money_is_exact_not_float():
    # 0.1 + 0.2 != 0.3 in floats; ten calls of $0.1 must exactly fill a $1 cap.
    led = Ledger(BudgetCaps(run_usd=1.0, min_output_tokens=1),
                 prices={"m": ModelPricing(price=Price(input=100_000, output=100_000))})
    for _ in range(10):
        res = led.reserve("agent", "m", None, prompt_tokens=0, max_tokens=1)
        led.settle(res, Usage(completion_tokens=1))
    assert led.spent_usd() == 1.0
    with pytest.raises(BudgetExhausted):
        led.reserve("agent", "m", None, prompt_tokens=0, max_tokens=1)


def test_a_call_blocked_only_by_calls_in_flight_waits_for_them():
    import threading

    led = ledger(run_usd=0.001)
    first = led.reserve("agent", "m", "a", prompt_tokens=400, max_tokens=10_000)  # all of it
    got = []
    waiter = threading.Thread(target=lambda: got.append(
        led.reserve("agent", "m", "b", prompt_tokens=100, max_tokens=100, wait=True)))
    waiter.start()
    waiter.join(0.1)
    assert waiter.is_alive() and not got  # waiting, not refused
    led.settle(first, Usage(prompt_tokens=300, completion_tokens=50))  # $400e-6 spent
    waiter.join(5)
    assert got and got[0].max_tokens == 100
    assert led.report().refusals == 0


def test_waiting_is_bounded_and_never_waits_for_the_impossible():
    led = ledger(run_usd=0.001)
    held = led.reserve("agent", "m", None, prompt_tokens=400, max_tokens=10_000)
    with pytest.raises(BudgetExhausted):  # could fit later, but the wait times out
        led.reserve("agent", "m", None, prompt_tokens=10, max_tokens=10, wait=True,
                    timeout_s=0.05)
    with pytest.raises(BudgetExhausted):  # can never fit: refused at once
        led.reserve("agent", "m", None, prompt_tokens=5_000, max_tokens=10, wait=True)
    led.release(held)


async def test_areserve_waits_without_blocking_the_loop():
    import asyncio

    led = ledger(run_usd=0.001)
    first = await led.areserve("agent", "m", "a", prompt_tokens=400, max_tokens=10_000)
    second = asyncio.create_task(led.areserve("agent", "m", "b", prompt_tokens=100,
                                              max_tokens=100))
    await asyncio.sleep(0.05)
    assert not second.done()
    led.release(first)
    res = await asyncio.wait_for(second, 5)
    assert res.max_tokens == 100
    with pytest.raises(BudgetExhausted):
        await led.areserve("agent", "m", "c", prompt_tokens=900, max_tokens=100, wait=False)
