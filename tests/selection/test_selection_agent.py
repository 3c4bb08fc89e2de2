"""The selection agent with a scripted model on a real repository: its test runs on the
original code and on each candidate, the results reach the model, and its choice comes
back as a candidate id with a reason; every call is in the ledger."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from agent.llm import BudgetCaps, Ledger, LLMClient, ModelConfig
from envs.candidate import Candidate
from sandbox.local import LocalSandbox
from selection.agent import run_selection_agent
from selection.matrix import ORIGINAL
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

TEST = "TEST\n```python\nfrom pkg.calc import add\n\ndef test_it():\n    assert add(2, 3) == 5\n```"


def _patch(body: str) -> str:
    return (
        "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
        f"@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return {body}\n"
    )


def _run(server: OpenAIStandIn, repo: Path, ledger: Ledger):
    cands = [Candidate(id="sys1:t", task_id="t", patch=_patch("a * b")),
             Candidate(id="sys2:t", task_id="t", patch=_patch("a + b"))]  # fmt: skip
    config = ModelConfig(name="picker", base_url=server.base_url, api_key_env=None, free=True)

    async def go():
        async with LLMClient(config.resolve({}), ledger) as client:
            return await run_selection_agent("add subtracts", cands, client,
                                             lambda: LocalSandbox(repo, warn=False))  # fmt: skip

    return asyncio.run(go())


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("agent") / "repo")


def test_the_agent_tests_then_chooses(repo: Path) -> None:
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    with OpenAIStandIn() as server:
        server.script(Reply.text(TEST), Reply.text("CHOICE: B\nREASON: only B passes."))
        verdict = _run(server, repo, ledger)
        second = server.requests[1].body["messages"]
    assert verdict.choice == "sys2:t" and verdict.reason == "only B passes."
    [test] = verdict.tests
    assert verdict.results[test.id] == {ORIGINAL: False, "sys1:t": False, "sys2:t": True}
    assert "original: FAIL, A: FAIL, B: pass" in second[-1]["content"]
    assert "sys1" not in second[1]["content"]  # candidates are shown by letter only
    assert ledger.report().by_caller["selection_agent"].calls == 2


def test_no_valid_answer_is_no_verdict(repo: Path) -> None:
    with OpenAIStandIn() as server:
        server.script(Reply.text("I think the second one"), Reply.text("CHOICE: Z"))
        verdict = _run(server, repo, Ledger(BudgetCaps()))
    assert verdict.choice is None and verdict.turns == 2


def test_the_verdict_joins_the_signals() -> None:
    from selection.agent import AgentVerdict
    from selection.pipeline import select_group
    from selection.pool import group_by_task

    cands = [
        Candidate(id=i, task_id="t", patch=_patch(b))
        for i, b in (("x", "a + b"), ("x2", "a+b"), ("y", "b + a"), ("z", "a * b"))
    ]
    shown: list[list[str]] = []

    async def agent(top):
        shown.append([c.id for c in top])
        return AgentVerdict(choice="y", reason="y handles the issue's example")

    sel = asyncio.run(select_group(group_by_task(cands)["t"], agent=agent))
    assert len(shown[0]) == 3 and not {"x", "x2"} <= set(shown[0])  # one per patch
    assert sel.evidence["agent_choice"] == "y"
    assert sel.chosen == "y" and "selection agent agrees" in sel.rationale
