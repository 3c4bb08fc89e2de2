"""`POST /webhooks`, `/healthz` and `/readyz` on the app as `quorum app` builds it (lifespan and
workers running), through FastAPI's TestClient."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable

import pytest
from fastapi.testclient import TestClient

from quorum.app.settings import AppSettings
from quorum.app.store import Job, JobOutcome, JobStore
from quorum.app.triggers import trigger_from_event
from tests.app.conftest import SECRET
from tests.helpers.webhooks import issue_comment, issue_labeled, signed_delivery


class RecordingHandler:
    """Every job done; remembers which ones it saw."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, bool]] = []

    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        self.seen.append((job.id, resumed))
        return JobOutcome(state="done")


def store_of(client: TestClient) -> JobStore:
    return client.app.state.store  # type: ignore[attr-defined,no-any-return]


def wait_for(predicate: Callable[[], bool], timeout_s: float = 10) -> None:
    deadline = time.monotonic() + timeout_s
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_a_signed_label_delivery_makes_a_job_the_workers_run(running_app) -> None:
    handler = RecordingHandler()
    with running_app(handler) as client:
        headers, body = signed_delivery(SECRET, "issues", issue_labeled(number=12), "d-1")
        reply = client.post("/webhooks", content=body, headers=headers)
        assert reply.status_code == 202
        job_id = reply.json()["job"]
        store = store_of(client)
        wait_for(lambda: store.job(job_id).state == "done")  # type: ignore[union-attr]
        assert handler.seen == [(job_id, False)]
        job = store.job(job_id)
        assert job is not None and job.trigger.number == 12 and job.delivery_id == "d-1"


def test_forged_and_unsigned_deliveries_get_401_and_a_log_line_without_the_body(
    running_app, caplog: pytest.LogCaptureFixture
) -> None:
    payload = issue_labeled(body="TOP-SECRET-BODY-TEXT")
    with running_app(RecordingHandler()) as client, caplog.at_level(logging.WARNING):
        headers, body = signed_delivery("not-the-secret", "issues", payload, "forged-1")
        assert client.post("/webhooks", content=body, headers=headers).status_code == 401
        headers, body = signed_delivery(SECRET, "issues", payload, "unsigned-1")
        del headers["X-Hub-Signature-256"]
        assert client.post("/webhooks", content=body, headers=headers).status_code == 401
        headers, body = signed_delivery(SECRET, "issues", payload, "tampered-1")
        tampered = body.replace(b"octocat", b"octodog")
        assert client.post("/webhooks", content=tampered, headers=headers).status_code == 401
        headers["X-Hub-Signature-256"] = headers["X-Hub-Signature-256"].upper()
        assert client.post("/webhooks", content=body, headers=headers).status_code == 401
        assert store_of(client).jobs() == [] and store_of(client).deliveries() == []
    lines = [r.getMessage() for r in caplog.records if r.name == "quorum.app.server"]
    assert any("forged" in line and "forged-1" in line and "issues" in line for line in lines)
    assert any("unsigned" in line and "unsigned-1" in line for line in lines)
    assert not any("TOP-SECRET" in line for line in caplog.text.splitlines())


def test_a_replayed_delivery_makes_no_second_job(running_app) -> None:
    handler = RecordingHandler()
    with running_app(handler) as client:
        headers, body = signed_delivery(SECRET, "issue_comment", issue_comment(), "same-id")
        first = client.post("/webhooks", content=body, headers=headers)
        second = client.post("/webhooks", content=body, headers=headers)
        assert first.status_code == second.status_code == 202
        assert second.json() == {"ignored": "duplicate delivery", "job": first.json()["job"]}
        store = store_of(client)
        wait_for(lambda: store.jobs("done") != [])
        time.sleep(0.3)  # a second job, if one had been made, would have run by now
        assert len(store.jobs()) == 1 and len(handler.seen) == 1


@pytest.mark.parametrize(
    ("event", "payload"),
    [("ping", {"zen": "Design for failure.", "hook_id": 1}),
     ("push", {"ref": "refs/heads/main"}),
     ("issues", issue_labeled(label_name="bug")),
     ("issue_comment", issue_comment(body="nice work")),
     ("check_run", {"action": "completed"})],
)  # fmt: skip
def test_events_it_does_not_handle_get_202_and_no_job(running_app, event, payload) -> None:
    with running_app(RecordingHandler()) as client:
        headers, body = signed_delivery(SECRET, event, payload)
        reply = client.post("/webhooks", content=body, headers=headers)
        assert reply.status_code == 202 and "ignored" in reply.json()
        assert store_of(client).jobs() == []


@pytest.mark.parametrize("body", [b"{not json", b"\xff\xfe\x00", b"[1, 2]", b'"text"', b"",
                                  b"[" * 100_000 + b"]" * 100_000])  # fmt: skip
def test_a_signed_body_that_is_not_a_json_object_gets_400(running_app, body: bytes) -> None:
    with running_app(RecordingHandler()) as client:
        headers, signed = signed_delivery(SECRET, "issues", body)
        reply = client.post("/webhooks", content=signed, headers=headers)
        assert reply.status_code == 400 and "JSON object" in reply.json()["error"]


def test_a_body_larger_than_github_sends_gets_413_before_any_check(running_app) -> None:
    with running_app(RecordingHandler()) as client:
        huge = b'{"a": "' + b"x" * (25 * 1024 * 1024) + b'"}'
        headers, body = signed_delivery(SECRET, "issues", huge)
        reply = client.post("/webhooks", content=body, headers=headers)
        assert reply.status_code == 413


def test_a_signed_delivery_without_its_id_or_event_gets_400(running_app) -> None:
    with running_app(RecordingHandler()) as client:
        for header in ("X-GitHub-Delivery", "X-GitHub-Event"):
            headers, body = signed_delivery(SECRET, "issues", issue_labeled())
            del headers[header]
            assert client.post("/webhooks", content=body, headers=headers).status_code == 400
        assert store_of(client).jobs() == []


def test_a_bad_command_still_makes_a_job_carrying_its_usage_error(running_app) -> None:
    with running_app(RecordingHandler()) as client:
        payload = issue_comment(body="/quorum solve -n lots")
        headers, body = signed_delivery(SECRET, "issue_comment", payload)
        job_id = client.post("/webhooks", content=body, headers=headers).json()["job"]
        job = store_of(client).job(job_id)
        assert job is not None and "-n wants" in job.trigger.usage_error


def test_healthz_answers_while_the_process_serves(running_app) -> None:
    with running_app(RecordingHandler()) as client:
        assert client.get("/healthz").json() == {"ok": True}


def test_readyz_is_503_with_the_reason_when_docker_does_not_answer(running_app) -> None:
    with running_app(RecordingHandler(), docker_host="unix:///nonexistent/docker.sock") as client:
        reply = client.get("/readyz")
        assert reply.status_code == 503
        assert reply.json()["ready"] is False
        assert "/nonexistent/docker.sock" in reply.json()["reason"]


@pytest.mark.docker
def test_readyz_is_200_with_a_writable_database_and_a_docker_engine(running_app) -> None:
    with running_app(RecordingHandler(), docker_host=None) as client:
        reply = client.get("/readyz")
        assert reply.status_code == 200, reply.text
        assert reply.json() == {"ready": True}


class OverlapHandler:
    """Sleeps a little per job and records, per installation, the most jobs at once."""

    def __init__(self) -> None:
        self.running: dict[int, int] = {}
        self.most: dict[int, int] = {}
        self.most_overall = 0

    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        key = job.trigger.installation_id
        self.running[key] = self.running.get(key, 0) + 1
        self.most[key] = max(self.most.get(key, 0), self.running[key])
        self.most_overall = max(self.most_overall, sum(self.running.values()))
        await asyncio.sleep(0.2)
        self.running[key] -= 1
        return JobOutcome(state="done")


def test_the_per_installation_limit_holds_while_other_installations_run(
        running_app, app_settings: AppSettings) -> None:  # fmt: skip
    # Queued before the server starts, so every worker has a job at once whatever the
    # machine's speed: the limits, not the arrival rate, decide the overlap.
    queue = JobStore(app_settings.db_path)
    for i in range(24):
        payload = issue_labeled(number=i + 1, installation_id=100 + i % 3)
        assert queue.record(f"d{i}", "issues", trigger_from_event("issues", payload))
    handler = OverlapHandler()
    with running_app(handler, workers=4, per_installation_concurrency=2) as client:
        store = store_of(client)
        wait_for(lambda: len(store.jobs("done")) == 24)
    assert handler.most == {100: 2, 101: 2, 102: 2}  # the limit, and reached
    assert handler.most_overall == 4  # the pool's size, and reached


class FailsOnOddHandler:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        self.calls += 1
        if job.trigger.number % 2:
            raise RuntimeError(f"tests could not be installed for #{job.trigger.number}")
        return JobOutcome(state="done")


def test_a_handler_that_raises_fails_its_job_and_the_worker_goes_on(
        running_app, app_settings: AppSettings) -> None:  # fmt: skip
    handler = FailsOnOddHandler()
    with running_app(handler, workers=1) as client:
        ids = []
        for number in (1, 2, 3, 4):
            headers, body = signed_delivery(SECRET, "issues", issue_labeled(number=number))
            ids.append(client.post("/webhooks", content=body, headers=headers).json()["job"])
        store = store_of(client)
        wait_for(lambda: not store.jobs("queued") and not store.jobs("running"))
        states = [(store.job(i).state, store.job(i).note) for i in ids]  # type: ignore[union-attr]
    assert [s for s, _ in states] == ["failed", "done", "failed", "done"]
    assert states[0][1] == "RuntimeError: tests could not be installed for #1"
    assert handler.calls == 4
    assert json.dumps(states)  # notes are plain text


def test_jobs_recorded_while_no_worker_looks_are_picked_up_by_polling(running_app) -> None:
    handler = RecordingHandler()
    with running_app(handler, workers=1) as client:
        store = store_of(client)
        # Written straight to the database, as another process would: no wake-up, only polling.
        other = JobStore(store.path)
        job = other.record("direct", "issues", trigger_from_event("issues", issue_labeled()))
        assert job is not None
        wait_for(lambda: store.job(job.id).state == "done")  # type: ignore[union-attr]
