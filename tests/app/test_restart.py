"""`kill -9` of the real server (uvicorn in a subprocess) in the middle of a job, then a
restart on the same database: the job is handed to the handler again with resumed=True
exactly once and ends done; never run twice, never lost."""

from __future__ import annotations

import json
import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx

from quorum.app.store import INTERRUPTED_TWICE, JobStore
from tests.helpers.app_process import AppProcess
from tests.helpers.webhooks import issue_labeled, signed_delivery

SECRET = "restart-secret"
GATE = "tests.helpers.app_process:gate_handler"


def wait_for(predicate: Callable[[], bool], what: str, timeout_s: float = 20) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def calls(path: Path) -> list[dict[str, object]]:
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line]


def deliver(server: AppProcess, number: int, delivery_id: str) -> int:
    headers, body = signed_delivery(SECRET, "issues", issue_labeled(number=number), delivery_id)
    reply = httpx.post(f"{server.url}/webhooks", content=body, headers=headers, timeout=10)
    assert reply.status_code == 202, reply.text
    return int(reply.json()["job"])


def test_a_job_cut_off_by_kill_9_is_resumed_once_after_a_restart(tmp_path: Path) -> None:
    record, gate = tmp_path / "calls.jsonl", tmp_path / "gate"
    env = {"QUORUM_TEST_CALLS": str(record), "QUORUM_TEST_GATE": str(gate)}
    server = AppProcess(tmp_path / "app.db", SECRET, handler=GATE, env=env, workers=1)
    with server:
        job_id = deliver(server, 5, "d-cut")
        queued_id = deliver(server, 6, "d-queued")  # waits behind it: one worker
        wait_for(lambda: len(calls(record)) == 1, "the handler to start the first job")
        server.kill9()
        assert JobStore(server.db).job(job_id).state == "running"  # type: ignore[union-attr]

        server.start()
        gate.touch()
        store = JobStore(server.db)
        wait_for(lambda: {j.state for j in store.jobs()} == {"done"}, "both jobs to finish")
        # The replay GitHub may send after an outage makes no new job.
        headers, body = signed_delivery(SECRET, "issues", issue_labeled(number=5), "d-cut")
        again = httpx.post(f"{server.url}/webhooks", content=body, headers=headers, timeout=10)
        assert again.json() == {"ignored": "duplicate delivery", "job": job_id}
        # SIGTERM: uvicorn's graceful shutdown stops the workers, then re-raises the signal.
        assert server.stop() == -signal.SIGTERM
        assert "Application shutdown complete" in server.log_text()
    assert calls(record) == [
        {"job": job_id, "resumed": False, "state": "running"},
        {"job": job_id, "resumed": True, "state": "running"},
        {"job": queued_id, "resumed": False, "state": "running"},
    ]
    final = JobStore(server.db).job(job_id)
    assert final is not None and final.attempts == 2 and final.resumed
    assert len(JobStore(server.db).jobs()) == 2


def test_a_job_cut_off_twice_is_failed_and_only_reported(tmp_path: Path) -> None:
    record, gate = tmp_path / "calls.jsonl", tmp_path / "gate"
    env = {"QUORUM_TEST_CALLS": str(record), "QUORUM_TEST_GATE": str(gate)}
    server = AppProcess(tmp_path / "app.db", SECRET, handler=GATE, env=env, workers=1)
    with server:
        job_id = deliver(server, 9, "d-twice")
        wait_for(lambda: len(calls(record)) == 1, "the first run")
        server.kill9()
        server.start()
        wait_for(lambda: len(calls(record)) == 2, "the resumed run")
        server.kill9()
        server.start()
        wait_for(lambda: len(calls(record)) == 3, "the failure report")
        gate.touch()
        time.sleep(0.5)  # let the report finish: it must not change the state
        job = JobStore(server.db).job(job_id)
    assert [(c["resumed"], c["state"]) for c in calls(record)] == [
        (False, "running"), (True, "running"), (True, "failed")]
    assert job is not None and (job.state, job.note) == ("failed", INTERRUPTED_TWICE)
