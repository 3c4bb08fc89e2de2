"""select_run with the tournament: the behaviours the probes found are judged pairwise on
the calls where they differ, and the judge's verdict can overturn the vote; the matches
are in the selection's evidence, the judge's calls in the ledger."""

from __future__ import annotations

import asyncio
import re
from pathlib import Path
from typing import Any

import pytest

from agent.llm import BudgetCaps, Ledger, LLMClient
from envs.candidate import Candidate
from sandbox.local import LocalSandbox
from selection.hybrid import SelectConfig
from selection.pipeline import RunOptions, RunSelection, select_run
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.selection.test_behaviour import PROBES, RIGHT_IF, RIGHT_MIN, _config, _repo

ISSUE = "clamp(1, 0, 5) returns 5: a value inside the range must come back as it is."
WRONG = [RIGHT_MIN.replace("min(x, hi)", text) for text in ("hi", "(hi)", "hi + 0")]
# three textual variants of one wrong behaviour outvote two right ones
CANDIDATES = [("w1", WRONG[0]), ("w2", WRONG[1]), ("w3", WRONG[2]), ("min", RIGHT_MIN),
              ("if", RIGHT_IF)]  # fmt: skip


def _judge(body: dict[str, Any]) -> Reply:
    """Probes for the prober's request; for the judge's, the side that returns 1 on
    clamp(1, 0, 5), as the issue says."""
    text = body["messages"][-1]["content"]
    if "You judge which behaviour" not in body["messages"][0]["content"]:
        return Reply.text(PROBES)
    blocks = re.findall(r"```\n(.*?)\n```", text, re.S)
    pairs = dict(zip(blocks[1::3], zip(blocks[2::3], blocks[3::3], strict=True), strict=True))
    one, two = pairs.get("clamp(1, 0, 5)", ("?", "?"))
    answer = "1" if one == "1" else "2" if two == "1" else "NEITHER"
    return Reply.text(f"ANSWER: {answer}")


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _repo(tmp_path_factory.mktemp("tournament") / "repo")


def _select(repo: Path, tournament: bool) -> tuple[RunSelection, Ledger, int]:
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    options = RunOptions(selection=SelectConfig(method="cascade", threshold=0.0),
                         regression_tests=False, behaviour=True, tournament=tournament,
                         probe_timeout_s=0.5)  # fmt: skip
    with OpenAIStandIn() as server:
        server.responder = _judge

        async def go() -> RunSelection:
            async with LLMClient(_config(server).resolve({}), ledger) as client:
                return await select_run(
                    "t", [Candidate(id=i, task_id="t", patch=p) for i, p in CANDIDATES], [],
                    lambda: LocalSandbox(repo, warn=False), ISSUE, options, prober=client,
                )  # fmt: skip

        run = asyncio.run(go())
        return run, ledger, len(server.requests)


def test_the_judge_overturns_a_wrong_majority_and_its_matches_are_evidence(repo: Path) -> None:
    voted, _, calls = _select(repo, tournament=False)
    assert calls == 1 and voted.selection.chosen in ("w1", "w2", "w3")  # the vote alone
    assert "tournament" not in voted.selection.evidence

    judged, ledger, calls = _select(repo, tournament=True)
    selection = judged.selection
    assert selection.chosen in ("min", "if"), selection.rationale
    assert calls == 3  # the probes, then one match asked in both orders
    assert "tournament" in selection.evidence["available_signals"]
    assert selection.signals["tournament"]["min"] == 1.0
    assert selection.signals["tournament"]["w1"] == 0.0
    evidence = selection.evidence["tournament"]
    [match] = evidence["matches"]
    assert match["verdict"]["calls"] == ["clamp(1, 0, 5)"]
    assert sorted(match["verdict"]["outputs_a"] + match["verdict"]["outputs_b"]) == ["1", "5"]
    assert {a["raw"] for a in match["verdict"]["answers"]} <= {"ANSWER: 1", "ANSWER: 2"}
    assert evidence["winner"] in ("min", "if")
    spent = ledger.report().by_caller
    assert spent["tournament"].calls == 2 and spent["behaviour_probe"].calls == 1
    assert evidence["cost_usd"] == pytest.approx(spent["tournament"].usd)
    assert "pairwise judge" in selection.rationale


def test_no_tournament_without_two_behaviours(repo: Path) -> None:
    """One behaviour (every patch alike on the probes): nothing to judge, no model call."""
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    options = RunOptions(selection=SelectConfig(threshold=0.0), regression_tests=False,
                         behaviour=True, tournament=True, probe_timeout_s=0.5)  # fmt: skip
    with OpenAIStandIn() as server:
        server.responder = _judge

        async def go() -> RunSelection:
            async with LLMClient(_config(server).resolve({}), ledger) as client:
                return await select_run(
                    "t", [Candidate(id=i, task_id="t", patch=p) for i, p in CANDIDATES[:3]],
                    [], lambda: LocalSandbox(repo, warn=False), ISSUE, options, prober=client,
                )  # fmt: skip

        run = asyncio.run(go())
        assert len(server.requests) == 1  # the probes only
    assert "tournament" not in run.selection.evidence
    assert run.selection.chosen in ("w1", "w2", "w3")
