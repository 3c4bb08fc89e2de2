"""No body, however malformed or unexpected, gets a 5xx from `POST /webhooks` or stops the
workers: hypothesis-generated signed deliveries against the running app."""

from __future__ import annotations

import json
import time
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from quorum.app.store import Job, JobOutcome
from tests.app.conftest import SECRET
from tests.helpers.webhooks import issue_comment, issue_labeled, signed_delivery

EVENTS = st.sampled_from(["issues", "issue_comment", "pull_request", "ping", "check_run"])
KEYS = ["action", "label", "name", "comment", "body", "id", "issue", "number", "installation",
        "repository", "full_name", "sender", "login", "type", "pull_request"]  # fmt: skip
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=30)
           | st.sampled_from(["labeled", "created", "quorum", "/quorum solve -n 3", "a/b"]))
JSON = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(KEYS) | st.text(max_size=8), inner, max_size=5),
    max_leaves=25,
)
FUZZ = dict(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


class CountingHandler:
    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        self.calls += 1
        return JobOutcome(state="done")


def _mutated(base: dict[str, Any], path: list[str], value: Any) -> dict[str, Any]:
    copy = json.loads(json.dumps(base))
    holder = copy
    for key in path[:-1]:
        holder = holder[key]
    holder[path[-1]] = value
    return copy


def test_no_body_gets_a_5xx(running_app) -> None:
    handler = CountingHandler()
    with running_app(handler) as client:
        statuses: set[int] = set()

        @settings(**FUZZ)
        @given(event=EVENTS, payload=JSON, raw=st.binary(max_size=200), use_raw=st.booleans())
        def deliver(event: str, payload: Any, raw: bytes, use_raw: bool) -> None:
            body = raw if use_raw else json.dumps(payload).encode()
            headers, signed = signed_delivery(SECRET, event, body)
            reply = client.post("/webhooks", content=signed, headers=headers)
            statuses.add(reply.status_code)
            assert reply.status_code < 500, (reply.status_code, reply.text)

        deliver()
        assert statuses <= {202, 400}
        assert client.get("/healthz").status_code == 200


PATHS = st.sampled_from([["action"], ["label"], ["label", "name"], ["issue"],
                         ["issue", "number"], ["issue", "pull_request"], ["installation"],
                         ["installation", "id"], ["repository", "full_name"], ["sender"],
                         ["sender", "login"], ["sender", "type"], ["comment", "body"],
                         ["comment", "id"]])  # fmt: skip


def test_real_payloads_with_any_field_replaced_never_get_a_5xx_nor_stop_the_workers(
        running_app) -> None:  # fmt: skip
    handler = CountingHandler()
    with running_app(handler, workers=2) as client:
        accepted: list[int] = []

        @settings(**FUZZ)
        @given(which=st.booleans(), path=PATHS, value=JSON)
        def deliver(which: bool, path: list[str], value: Any) -> None:
            event, base = (("issues", issue_labeled()) if which else
                           ("issue_comment", issue_comment(body="/quorum solve -n 2")))
            if path[0] == "label" and not which:
                path = ["comment", "body"]  # each payload's own trigger field
            if path[0] == "comment" and which:
                path = ["label", "name"]
            headers, body = signed_delivery(SECRET, event, _mutated(base, path, value))
            reply = client.post("/webhooks", content=body, headers=headers)
            assert reply.status_code in (202, 400), (reply.status_code, reply.text)
            if "job" in reply.json():
                accepted.append(reply.json()["job"])

        deliver()
        store = client.app.state.store  # type: ignore[attr-defined]
        deadline = time.monotonic() + 20
        while len(store.jobs("done")) < len(accepted) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(store.jobs("done")) == len(accepted) == handler.calls  # every job ran once
        assert accepted, "no mutation kept a valid trigger: the fuzz would prove little"
