"""The ledger's journal: every charge is handed out as it is made, and a new ledger that
restores them (a run resumed after a kill) reports the same spend and holds the same caps."""

from __future__ import annotations

import pytest

from agent.llm import BudgetCaps, BudgetExhausted, Charge, Ledger, ModelPricing, Price, Usage

PRICED = ModelPricing(price=Price(input=1.0, cached_input=0.5, output=2.0))


def _ledger(journal: list[Charge] | None = None, **caps) -> Ledger:
    return Ledger(BudgetCaps(**caps), prices={"m": PRICED},
                  journal=journal.append if journal is not None else None)  # fmt: skip


def test_charges_are_journaled_and_restored_exactly() -> None:
    journal: list[Charge] = []
    first = _ledger(journal, run_usd=0.01, trajectory_usd=0.005)
    a = first.reserve("agent", "m", "t1", prompt_tokens=1_000, max_tokens=500)
    first.settle(a, Usage(prompt_tokens=900, completion_tokens=100, cached_tokens=300))
    b = first.reserve("agent", "m", "t2", prompt_tokens=1_000, max_tokens=500)
    first.release(b, billed=True)  # a timeout: charged at its worst case
    c = first.reserve("verifier", "m", None, prompt_tokens=10, max_tokens=1)
    first.release(c)  # a 429: not billed, not journaled
    assert [(x.trajectory_id, x.lost) for x in journal] == [("t1", False), ("t2", True)]

    again = _ledger(run_usd=0.01, trajectory_usd=0.005)
    again.restore(journal)
    before, after = first.report(), again.report()
    assert after.total == before.total and after.by_trajectory == before.by_trajectory
    assert after.by_caller == before.by_caller and after.by_model == before.by_model
    assert after.lost_calls == 1
    assert again.spent_usd() == first.spent_usd()


def test_restored_spend_counts_against_the_caps() -> None:
    journal: list[Charge] = []
    first = _ledger(journal, run_usd=0.003)
    res = first.reserve("agent", "m", "t1", prompt_tokens=1_000, max_tokens=500)
    first.settle(res, Usage(prompt_tokens=1_000, completion_tokens=500))  # $0.002
    again = _ledger(run_usd=0.003)
    again.restore(journal)
    # $0.001 is left: 1000 prompt tokens alone would take all of it.
    with pytest.raises(BudgetExhausted, match=r"spent \$0\.002"):
        again.reserve("agent", "m", "t1", prompt_tokens=1_000, max_tokens=500)
    assert again.reserve("agent", "m", "t1", prompt_tokens=100, max_tokens=500).max_tokens == 450


def test_a_failing_journal_does_not_fail_the_call(caplog: pytest.LogCaptureFixture) -> None:
    def broken(charge: Charge) -> None:
        raise OSError("No space left on device")

    led = Ledger(BudgetCaps(), prices={"m": PRICED}, journal=broken)
    res = led.reserve("agent", "m", None, prompt_tokens=10, max_tokens=10)
    assert led.settle(res, Usage(prompt_tokens=10, completion_tokens=10)) > 0
    assert led.in_flight() == 0 and "No space left" in caplog.text
