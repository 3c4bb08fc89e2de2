"""The durable queue: one transaction per delivery, atomic claims under the per-installation
limit, outcomes, and what a restart finds."""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path

import pytest

from quorum.app.store import INTERRUPTED_TWICE, SCHEMA_VERSION, JobOutcome, JobStore, StoreError
from quorum.app.triggers import Trigger


def trigger(installation: int = 1, number: int = 7) -> Trigger:
    return Trigger(kind="solve", installation_id=installation, repo="acme/widgets",
                   number=number, sender="ann", sender_type="User", via="label")  # fmt: skip


def test_a_delivery_makes_one_job_and_its_replay_none(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.db")
    job = store.record("d-1", "issues", trigger())
    assert job is not None and job.state == "queued" and job.attempts == 0
    assert job.trigger == trigger()
    assert store.record("d-1", "issues", trigger()) is None
    again = store.record_delivery("d-1", "issues", trigger())
    assert again.duplicate and again.job is not None and again.job.id == job.id
    assert [j.id for j in store.jobs()] == [job.id]
    assert store.deliveries() == [("d-1", "issues")]


def test_a_delivery_without_a_trigger_is_recorded_without_a_job(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.db")
    assert store.record("d-2", "push", None) is None
    assert store.deliveries() == [("d-2", "push")] and store.jobs() == []


def test_concurrent_copies_of_one_delivery_make_one_job(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.db")
    other = JobStore(tmp_path / "q.db")  # a second connection: the database decides, not a lock
    made: list[object] = []
    barrier = threading.Barrier(8)

    def deliver(s: JobStore) -> None:
        barrier.wait()
        made.append(s.record("same", "issues", trigger()))

    threads = [threading.Thread(target=deliver, args=(store if i % 2 else other,))
               for i in range(8)]  # fmt: skip
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(job is not None for job in made) == 1
    assert len(store.jobs()) == 1


def test_the_database_is_wal_fully_synced_and_versioned(tmp_path: Path) -> None:
    JobStore(tmp_path / "q.db").record("d", "issues", trigger())
    db = sqlite3.connect(tmp_path / "q.db")
    assert db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    store = JobStore(tmp_path / "q.db")  # reopening keeps what was there
    assert len(store.jobs()) == 1
    assert store.durability() == {"journal_mode": "wal", "synchronous": 2,  # 2: FULL
                                  "user_version": SCHEMA_VERSION}  # fmt: skip
    assert store.writable() is None


def test_a_database_from_a_newer_quorum_is_refused(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "q.db")
    db.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    db.close()
    with pytest.raises(StoreError, match="schema version"):
        JobStore(tmp_path / "q.db")


def test_claims_respect_the_per_installation_limit(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.db")
    a1 = store.record("a1", "issues", trigger(installation=1))
    a2 = store.record("a2", "issues", trigger(installation=1))
    b1 = store.record("b1", "issues", trigger(installation=2))
    assert a1 and a2 and b1
    first = store.claim_next(per_installation=1)
    assert first is not None and first.id == a1.id and first.state == "running"
    assert first.attempts == 1
    second = store.claim_next(per_installation=1)
    assert second is not None and second.id == b1.id  # installation 1 is at its limit
    assert store.claim_next(per_installation=1) is None
    store.finish(a1.id, JobOutcome(state="done", note="ok"))
    third = store.claim_next(per_installation=1)
    assert third is not None and third.id == a2.id
    finished = store.job(a1.id)
    assert finished is not None and (finished.state, finished.note) == ("done", "ok")


def test_two_workers_never_claim_one_job(tmp_path: Path) -> None:
    stores = [JobStore(tmp_path / "q.db") for _ in range(4)]
    for i in range(40):
        stores[0].record(f"d{i}", "issues", trigger(installation=i))
    claimed: list[int] = []

    def drain(store: JobStore) -> None:
        while (job := store.claim_next(per_installation=1)) is not None:
            claimed.append(job.id)

    threads = [threading.Thread(target=drain, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == [j.id for j in stores[0].jobs()]


def test_finish_leaves_a_final_job_alone(tmp_path: Path) -> None:
    store = JobStore(tmp_path / "q.db")
    job = store.record("d", "issues", trigger())
    assert job is not None
    store.finish(job.id, JobOutcome(state="done"))  # not running yet: nothing to finish
    assert store.job(job.id).state == "queued"  # type: ignore[union-attr]


def test_a_job_left_running_is_resumed_once_then_failed(tmp_path: Path) -> None:
    dead = JobStore(tmp_path / "q.db")
    job = dead.record("d", "issues", trigger())
    assert job is not None and dead.claim_next(1) is not None
    assert dead.jobs_left_running() == []  # its own claims are not "left"

    restarted = JobStore(tmp_path / "q.db")
    assert [j.id for j in restarted.jobs_left_running()] == [job.id]
    assert restarted.recover_interrupted() == []
    resumed = restarted.claim_next(1)
    assert resumed is not None and resumed.resumed and resumed.attempts == 2

    again = JobStore(tmp_path / "q.db")  # interrupted a second time
    failed = again.recover_interrupted()
    assert [(j.id, j.state, j.note) for j in failed] == [(job.id, "failed", INTERRUPTED_TWICE)]
    assert again.claim_next(1) is None and again.jobs_left_running() == []


def test_resumed_jobs_go_first(tmp_path: Path) -> None:
    dead = JobStore(tmp_path / "q.db")
    old = dead.record("old", "issues", trigger(installation=1))
    newer = dead.record("newer", "issues", trigger(installation=2))
    assert old and newer
    dead.claim_next(1)  # old
    dead.claim_next(1)  # newer
    dead.finish(old.id, JobOutcome(state="done"))
    later = dead.record("later", "issues", trigger(installation=3))
    restarted = JobStore(tmp_path / "q.db")
    restarted.recover_interrupted()
    first = restarted.claim_next(1)
    assert first is not None and first.id == newer.id and later is not None


def test_an_unopenable_path_is_a_quorum_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("")
    with pytest.raises(StoreError, match="QUORUM_APP_DB"):
        JobStore(tmp_path / "file" / "q.db")
