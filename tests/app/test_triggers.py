"""Which deliveries start a job, and that no payload whatever makes `trigger_from_event`
raise."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quorum.app.triggers import MAX_N, trigger_from_event
from tests.helpers.openapi_check import WEBHOOKS_SPEC, webhook_violations
from tests.helpers.webhooks import issue_comment, issue_labeled


def test_the_quorum_label_on_an_issue_asks_for_a_solve() -> None:
    trigger = trigger_from_event("issues", issue_labeled("acme/widgets", 12, sender="ann"))
    assert trigger is not None
    assert (trigger.kind, trigger.via, trigger.repo, trigger.number) == (
        "solve", "label", "acme/widgets", 12)
    assert (trigger.installation_id, trigger.sender, trigger.sender_type) == (4242, "ann", "User")
    assert trigger.comment_id is None and trigger.usage_error == ""
    assert not trigger.sender_is_bot


def test_other_labels_and_other_issue_actions_are_not_triggers() -> None:
    assert trigger_from_event("issues", issue_labeled(label_name="bug")) is None
    assert trigger_from_event("issues", {**issue_labeled(), "action": "unlabeled"}) is None
    assert trigger_from_event("pull_request", issue_labeled()) is None
    assert trigger_from_event("ping", {"zen": "Keep it logically awesome."}) is None


def test_a_solve_comment_carries_its_options() -> None:
    body = "/quorum solve -n 6 --budget-usd 2.50\n\nthanks!"
    trigger = trigger_from_event("issue_comment", issue_comment(body=body, comment_id=77))
    assert trigger is not None
    assert (trigger.kind, trigger.via, trigger.comment_id) == ("solve", "comment", 77)
    assert (trigger.n, trigger.budget_usd, trigger.usage_error) == (6, 2.5, "")
    equals = trigger_from_event("issue_comment", issue_comment(body="/quorum solve -n=3 "
                                                               "--budget-usd=$4"))  # fmt: skip
    assert equals is not None and (equals.n, equals.budget_usd) == (3, 4.0)


def test_fix_on_a_pull_request() -> None:
    trigger = trigger_from_event("issue_comment", issue_comment(body="/quorum fix", pull=True))
    assert trigger is not None and (trigger.kind, trigger.usage_error) == ("fix", "")


@pytest.mark.parametrize(
    ("body", "pull", "reason"),
    [
        ("/quorum solve -n abc", False, "-n wants a whole number"),
        ("/quorum solve -n 0", False, "-n wants a whole number"),
        (f"/quorum solve -n {MAX_N + 1}", False, "-n wants a whole number"),
        ("/quorum solve -n", False, "-n wants a whole number"),
        ("/quorum solve -n ²", False, "-n wants a whole number"),
        ("/quorum solve --budget-usd -1", False, "--budget-usd wants"),
        ("/quorum solve --budget-usd nan", False, "--budget-usd wants"),
        ("/quorum solve --budget-usd inf", False, "--budget-usd wants"),
        ("/quorum solve --rounds 3", False, "unknown option `--rounds`"),
        ("/quorum", False, "no command given"),
        ("/quorum deploy", False, "unknown command `deploy`"),
        ("/quorum fix", False, "works on a pull request"),
        ("/quorum solve", True, "works on an issue"),
        ("/quorum fix --force", True, "takes no options"),
    ],
)
def test_bad_commands_ask_for_a_usage_answer(body: str, pull: bool, reason: str) -> None:
    trigger = trigger_from_event("issue_comment", issue_comment(body=body, pull=pull))
    assert trigger is not None, body
    assert reason in trigger.usage_error
    assert trigger.n is None and trigger.budget_usd is None


@pytest.mark.parametrize(
    "body", ["please /quorum solve", "quorum solve", "/quorumsolve", "", "  \n", "LGTM"])
def test_comments_not_addressed_to_quorum_are_ignored(body: str) -> None:
    assert trigger_from_event("issue_comment", issue_comment(body=body)) is None


def test_edited_or_deleted_comments_are_ignored() -> None:
    for action in ("edited", "deleted"):
        assert trigger_from_event("issue_comment", issue_comment(action=action)) is None


@pytest.mark.parametrize(("login", "kind"), [("dependabot[bot]", "Bot"), ("quorum[bot]", "User"),
                                             ("renovate", "Bot")])  # fmt: skip
def test_bot_senders_are_marked(login: str, kind: str) -> None:
    for trigger in (
        trigger_from_event("issues", issue_labeled(sender=login, sender_type=kind)),
        trigger_from_event("issue_comment", issue_comment(sender=login, sender_type=kind)),
    ):
        assert trigger is not None and trigger.sender_is_bot


def test_fields_of_the_wrong_type_make_no_trigger() -> None:
    payload = issue_labeled()
    for path, value in [(("installation", "id"), "4242"), (("issue", "number"), True),
                        (("repository", "full_name"), "no-slash"), (("sender", "login"), None),
                        (("issue", "number"), 2**64), (("sender", "login"), "\ud800")]:  # fmt: skip
        broken = json.loads(json.dumps(payload))
        broken[path[0]][path[1]] = value
        assert trigger_from_event("issues", broken) is None, path
    assert trigger_from_event("issues", {**payload, "installation": None}) is None


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)
KEYS = ["action", "label", "name", "comment", "body", "id", "issue", "number", "installation",
        "repository", "full_name", "sender", "login", "type", "pull_request"]  # fmt: skip
SHAPED = st.recursive(  # dictionaries with the keys the parser looks at, values anything
    JSON, lambda inner: st.dictionaries(st.sampled_from(KEYS), inner, max_size=6), max_leaves=30)


@settings(max_examples=150, deadline=None)
@given(event=st.sampled_from(["issues", "issue_comment", "push", ""]) | st.text(max_size=10),
       payload=JSON | SHAPED)  # fmt: skip
def test_no_payload_makes_it_raise(event: str, payload: Any) -> None:
    trigger_from_event(event, payload)


@settings(max_examples=200, deadline=None)
@given(body=st.text(max_size=80), pull=st.booleans())
def test_no_comment_text_makes_it_raise(body: str, pull: bool) -> None:
    trigger = trigger_from_event("issue_comment", issue_comment(body="/quorum " + body, pull=pull))
    assert trigger is not None  # addressed to Quorum: a run or a usage answer, never nothing
    assert trigger.usage_error or trigger.kind == ("fix" if pull else "solve")


@pytest.mark.parametrize(
    ("event", "payload"),
    [("issues", issue_labeled()),
     ("issue_comment", issue_comment()),
     ("issue_comment", issue_comment(pull=True, sender="x[bot]", sender_type="Bot"))],
)  # fmt: skip
def test_the_test_payloads_follow_githubs_webhook_schema(event: str, payload: Any) -> None:
    assert webhook_violations(event, payload) == []


def official_examples() -> list[tuple[str, Any]]:
    """The example deliveries GitHub's webhook description ships (check_run, ping, ...)."""
    document = json.loads(WEBHOOKS_SPEC.read_text())
    found = []
    for name, hook in document["webhooks"].items():
        content = hook["post"]["requestBody"]["content"]["application/json"]
        for example in content.get("examples", {}).values():
            payload = document["components"]["examples"][example["$ref"].rsplit("/", 1)[-1]]
            action = payload["value"].get("action")  # the name is EVENT-ACTION, dashed
            event = name.removesuffix(f"-{action}") if action else name
            found.append((event.replace("-", "_"), payload["value"]))
    return found


def test_githubs_own_example_deliveries_are_not_triggers() -> None:
    examples = official_examples()
    assert {event for event, _ in examples} >= {"check_run", "ping"}
    for event, payload in examples:
        for as_event in (event, "issues", "issue_comment"):  # even sent under our events
            assert trigger_from_event(as_event, payload) is None, (event, as_event)


def test_an_unforeseen_read_error_is_logged_without_the_payload(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """The belt behind the typed reads: a bug of ours there ignores the delivery and says
    so in the log, naming the error's type but never the payload's content."""
    import quorum.app.triggers as triggers

    def broken(event: str, payload: Any) -> None:
        raise KeyError("a field this code assumed")

    monkeypatch.setattr(triggers, "_trigger", broken)
    payload = issue_comment(body="/quorum solve secret-looking-text-123")
    with caplog.at_level("WARNING", logger="quorum.app.triggers"):
        assert trigger_from_event("issue_comment", payload) is None
    assert "KeyError" in caplog.text and "issue_comment" in caplog.text
    assert "secret-looking-text-123" not in caplog.text
