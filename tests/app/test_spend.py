"""Monthly spend per installation: reserved before a job, settled from its journal, capped."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.llm.ledger import Charge
from quorum.app.spend import SpendBook, SpendRefused, spent


class Clock:
    def __init__(self, when: str) -> None:
        self.now = datetime.fromisoformat(when).replace(tzinfo=UTC).timestamp()

    def __call__(self) -> float:
        return self.now


def _book(tmp_path: Path, clock: Clock, usd: float | None = 10.0,
          tokens: int | None = 1_000_000) -> SpendBook:
    return SpendBook(tmp_path / "app.db", monthly_usd=usd, monthly_tokens=tokens, clock=clock)


def test_a_job_budget_is_what_it_asks_within_what_is_left(tmp_path: Path) -> None:
    clock = Clock("2026-12-01T10:00:00")
    book = _book(tmp_path, clock)
    assert book.reserve(1, "j1", usd=4.0, tokens=None).usd == 4.0
    assert book.remaining(1).usd == 6.0  # held while it runs
    book.settle("j1", usd=1.5, tokens=20_000)
    left = book.remaining(1)
    assert (left.usd, left.tokens) == (8.5, 980_000)
    assert book.reserve(1, "j2", usd=None, tokens=None).usd == 8.5  # as much as is left
    assert book.remaining(2).usd == 10.0  # another installation is untouched


def test_settling_a_resumed_job_again_replaces_its_spend(tmp_path: Path) -> None:
    book = _book(tmp_path, Clock("2026-12-01T10:00:00"))
    book.reserve(1, "j1", usd=2.0, tokens=None)
    book.settle("j1", usd=1.0, tokens=100)
    book.settle("j1", usd=1.25, tokens=150)
    assert book.remaining(1).usd == 8.75


def test_over_the_cap_is_refused_saying_what_is_left(tmp_path: Path) -> None:
    book = _book(tmp_path, Clock("2026-12-31T23:00:00"))
    book.add(1, 9.5, 1000)
    with pytest.raises(SpendRefused) as caught:
        book.reserve(1, "j1", usd=2.0, tokens=None)
    assert "$0.50" in str(caught.value) and "2026-12" in str(caught.value)
    assert book.reserve(1, "j2", usd=None, tokens=None).usd == 0.5
    with pytest.raises(SpendRefused):  # nothing left beside j2's reservation
        book.reserve(1, "j3", usd=None, tokens=None)


def test_a_free_model_is_held_by_the_token_cap(tmp_path: Path) -> None:
    book = _book(tmp_path, Clock("2026-12-05T00:00:00"), usd=None, tokens=50_000)
    book.add(1, 0.0, 49_000)
    with pytest.raises(SpendRefused) as caught:
        book.check(1)
    assert "1,000 tokens left" in str(caught.value)


def test_the_month_turns_over_in_utc_and_survives_a_new_book(tmp_path: Path) -> None:
    clock = Clock("2026-11-30T23:59:00")
    _book(tmp_path, clock).add(1, 10.0, 0)
    assert _book(tmp_path, clock).remaining(1).usd == 0.0  # persisted
    clock.now += 120
    assert _book(tmp_path, clock).remaining(1).usd == 10.0


def test_concurrent_reservations_never_share_the_remainder(tmp_path: Path) -> None:
    book = _book(tmp_path, Clock("2026-12-01T00:00:00"))
    granted: list[float] = []
    errors: list[Exception] = []

    def job(i: int) -> None:
        try:
            granted.append(book.reserve(1, f"j{i}", usd=3.0, tokens=10_000).usd or 0)
        except SpendRefused as exc:
            errors.append(exc)

    threads = [threading.Thread(target=job, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(granted) <= 10.0 and len(granted) == 3 and len(errors) == 3


def test_spent_adds_up_a_journal() -> None:
    charges = [Charge(caller="solver", model="m", prompt_tokens=100, completion_tokens=20,
                      pico_usd=2 * 10**11),
               Charge(caller="verifier", model="m", prompt_tokens=5, pico_usd=10**11)]
    assert spent(charges) == (0.3, 125)


def test_a_configured_budget_is_clipped_an_explicit_one_must_fit(tmp_path: Path) -> None:
    book = _book(tmp_path, Clock("2026-12-01T00:00:00"))
    book.add(1, 8.0, 0)
    assert book.reserve(1, "j1", usd=5.0, tokens=None, must_fit=False).usd == 2.0
    book.release("j1")
    with pytest.raises(SpendRefused):
        book.reserve(1, "j1", usd=5.0, tokens=None, must_fit=True)


def test_a_resumed_job_reserves_again_and_settles_its_whole_spend(tmp_path: Path) -> None:
    book = _book(tmp_path, Clock("2026-12-01T00:00:00"))
    book.reserve(1, "j1", usd=4.0, tokens=None)
    book.settle("j1", usd=1.0, tokens=10)  # the first attempt, before a crash
    assert book.reserve(1, "j1", usd=4.0, tokens=None).usd == 4.0  # its own row is not "used"
    book.settle("j1", usd=1.5, tokens=20)  # the run's journal: both attempts
    assert book.remaining(1).usd == 8.5
