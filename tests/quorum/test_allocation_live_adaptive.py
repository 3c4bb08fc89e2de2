"""`--allocation adaptive` in a real run (local sandboxes, the scripted model stand-in, the
scenario of test_allocation_live): one trajectory at a time; t0 and t1 agree on one fix,
but only on the tests they wrote themselves, so sampling goes on; t2, another fix, writes
a test the pair passes, and the selector's answer (the pair's fix, unscored, two agree)
is settled: t3 never starts."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agent.llm import ModelConfig
from agent.rollout import RolloutConfig
from envs.sources.local import task_from_local
from quorum.solve import SolveOptions, solve
from tests.agent.scripted import solver_script
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.quorum.test_allocation_live import ISSUE, MODELS, _run
from tests.sandbox.conftest import make_repo


def test_adaptive_stops_once_the_selectors_answer_is_settled(tmp_path: Path) -> None:
    outcome, asked = _run(tmp_path, "adaptive")
    assert asked["m0"] > 0 and asked["m1"] > 0 and asked["m2"] > 0
    assert asked["m3"] == 0
    assert {c.id for c in outcome.candidates} == {"r0-t0", "r0-t1", "r0-t2"}
    assert outcome.selection.chosen in {"r0-t0", "r0-t1"}
    record = json.loads((tmp_path / "run" / "allocation.json").read_text())
    assert record["policy"] == "adaptive"
    assert record["stopped"].startswith("stopped: the selector's answer r0-t")
    assert "(2 candidates agree; passes 1 validated tests written outside its cluster); " \
           "saved 1 of 4 trajectories" in record["stopped"]
    # one at a time: no decision ever has more than one running
    assert all(d["running"] <= 1 for d in record["decisions"])


def test_adaptive_scores_as_trajectories_finish_and_selection_reuses_the_scores(
        tmp_path: Path) -> None:
    """With a verifier the answer is backed by its score, not by agreement: the same stop,
    said so; each distinct patch is judged once, as it comes (t0's fix, then t2's), and
    selection asks nothing more of the judge."""
    task = task_from_local(make_repo(tmp_path / "repo"), issue=ISSUE)
    with OpenAIStandIn() as server:
        server.script_for("m0", *solver_script("add(1, 2) == 3", "a + b"))
        look = Reply.tool_call("bash", {"command": "sleep 1; ls pkg"}, call_id="c0")
        server.script_for("m1", look, *solver_script("add(2, 2) == 4", "a + b"))
        server.script_for("m2", *solver_script("add(3, 2) == 5", "b + a"))
        server.script_for("m3", *solver_script("add(0, 2) == 2", "a + b + 0"))
        server.script_for("judge", Reply.yes_no(0.9, 0.1), Reply.yes_no(0.3, 0.7))
        endpoints = [ModelConfig(name=m, base_url=server.base_url, api_key_env=None,
                                 free=True).resolve({}) for m in MODELS]  # fmt: skip
        judge = ModelConfig(name="judge", base_url=server.base_url, api_key_env=None,
                            free=True, supports_logprobs=True).resolve({})  # fmt: skip
        options = SolveOptions(rollout=RolloutConfig(n=4), sandbox="local",
                               allocation="adaptive", regression_tests=False)  # fmt: skip
        outcome = asyncio.run(solve(task, endpoints, options, tmp_path / "run",
                                    verifier=judge))  # fmt: skip
        judged = [r for r in server.requests if r.body.get("model") == "judge"]
        asked_m3 = sum(r.body.get("model") == "m3" for r in server.requests)
    assert asked_m3 == 0
    assert len(judged) == 2  # t0's (t1's is the same patch) and t2's; none at selection
    record = json.loads((tmp_path / "run" / "allocation.json").read_text())
    assert "is settled (verifier 0.90; passes 1 validated tests written outside its " \
           "cluster); saved 1 of 4 trajectories" in record["stopped"], record["stopped"]
    assert outcome.selection.chosen in {"r0-t0", "r0-t1"}
    selection = json.loads((tmp_path / "run" / "selection.json").read_text())
    assert selection["evidence"]["verifier"] == "verifier:judge"
    assert "verifier P(YES) 0.90" in outcome.selection.rationale
