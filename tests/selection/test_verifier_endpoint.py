"""The endpoint verifier against the scripted OpenAI-compatible server: prefill-only
requests, scores keyed by candidate id whatever order the answers come back in, one
judgement per normalised patch, cost in the ledger."""

from __future__ import annotations

import asyncio
import json

import pytest

from agent.llm import BudgetCaps, Ledger, LLMClient, ModelConfig
from envs.candidate import Candidate
from selection.hybrid import SelectConfig
from selection.pipeline import select_group, verify_group
from selection.pool import group_by_task
from selection.verifier import EndpointVerifier, Verifier, VerifierItem, condense_trajectory
from tests.helpers.openai_standin import OpenAIStandIn, Reply

# the marker in a patch -> (P(YES), P(NO), seconds before answering)
ANSWERS = {"FIX_A": (0.9, 0.1, 0.6), "FIX_B": (0.2, 0.6, 0.0), "FIX_C": (0.5, 0.5, 0.3)}


def _patch(marker: str) -> str:
    return (
        f"diff --git a/m.py b/m.py\n--- a/m.py\n+++ b/m.py\n@@ -1 +1 @@\n-x = 0\n+x = '{marker}'\n"
    )


def _respond(body: dict) -> Reply:
    text = json.dumps(body["messages"])
    for marker, (p_yes, p_no, delay) in ANSWERS.items():
        if marker in text:
            return Reply.yes_no(p_yes, p_no, delay_s=delay)
    return Reply.error(400, "no marker")


@pytest.fixture
def server():
    with OpenAIStandIn() as srv:
        srv.responder = _respond
        yield srv


def _client(server: OpenAIStandIn, ledger: Ledger) -> LLMClient:
    config = ModelConfig(name="judge", base_url=server.base_url, api_key_env=None, free=True,
                         supports_logprobs=True)  # fmt: skip
    return LLMClient(config.resolve({}), ledger)


def test_scores_are_keyed_by_id_not_by_arrival(server: OpenAIStandIn) -> None:
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    items = [
        VerifierItem(candidate_id=c, issue="x is wrong", patch=_patch(m))
        for c, m in (("a", "FIX_A"), ("b", "FIX_B"), ("c", "FIX_C"), ("bad", "NONE"))
    ]

    async def go() -> dict[str, float]:
        async with _client(server, ledger) as client:
            verifier = EndpointVerifier(client, concurrency=4)
            assert isinstance(verifier, Verifier)
            return await verifier.score(items)

    scores = asyncio.run(go())  # a answers last, b first
    assert scores == pytest.approx({"a": 0.9, "b": 0.25, "c": 0.5})  # "bad" left out
    body = server.requests[0].body
    assert body["max_tokens"] == 1 and body["logprobs"] is True and body["top_logprobs"] == 20
    assert body["messages"][0]["role"] == "system"
    user = body["messages"][1]["content"]
    assert user.index("<issue>") < user.index("<trajectory>") < user.index("<patch>")
    report = ledger.report()
    assert report.by_caller["verifier"].calls == 3  # the 400 is not billed
    assert set(report.by_trajectory) == {"a", "b", "c"}


def test_one_judgement_per_normalised_patch_and_cascade(server: OpenAIStandIn) -> None:
    cands = [
        Candidate(id="a1", task_id="t", patch=_patch("FIX_A")),
        Candidate(id="a2", task_id="t", patch=_patch("FIX_A").replace("'FIX_A'", "'FIX_A'  # ok")),
        Candidate(id="b", task_id="t", patch=_patch("FIX_B")),
    ]
    group = group_by_task(cands)["t"]

    async def go():
        async with _client(server, Ledger(BudgetCaps())) as client:
            verifier = EndpointVerifier(client)
            scores = await verify_group(group, verifier, "issue")
            sel = await select_group(group, verifier=verifier, issue="issue",
                                     config=SelectConfig(top_k=1))  # fmt: skip
            return scores, sel

    scores, sel = asyncio.run(go())
    assert scores == pytest.approx({"a1": 0.9, "a2": 0.9, "b": 0.25})
    assert len(server.requests) == 4  # two clusters, scored twice (two calls above)
    assert sel.chosen in ("a1", "a2") and sel.evidence["verifier"] == "verifier:judge"
    assert "verifier P(YES) 0.90" in sel.rationale


def test_condensed_trajectory_keeps_actions_not_thoughts() -> None:
    data = {
        "steps": [
            {"index": 0, "thought": "I am sure", "tool": "bash",
             "args": {"command": "pytest -q"}, "observation": "1 failed\n  in 0.1s"},
            {"index": 1, "thought": "", "tool": "edit", "args": {"path": "m.py"},
             "observation": "ok"},
        ],
        "exit": {"status": "submitted", "reason": "done"},
    }  # fmt: skip
    text = condense_trajectory(data)
    assert text.splitlines() == [
        "[0] bash pytest -q -> 1 failed in 0.1s", "[1] edit m.py -> ok", "exit: submitted"
    ]  # fmt: skip
    assert "I am sure" not in text
