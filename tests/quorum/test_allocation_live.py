"""`SolveOptions.allocation` in a real run (local sandboxes, the scripted model stand-in):
consensus stops once two trajectories agree on one fix that passes every validated test,
never starts the rest, spends fewer tokens than fixed at the same N, and says why."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from agent.llm import ModelConfig
from agent.rollout import RolloutConfig
from envs.sources.local import task_from_local
from quorum.allocating import read_allocation
from quorum.solve import SolveOptions, solve
from tests.agent.scripted import solver_script
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

ISSUE = "add(1, 2) returns -1 instead of 3."
MODELS = ("m0", "m1", "m2", "m3")  # trajectory i talks to MODELS[i]: one script each


def _run(tmp_path: Path, allocation: str,
         judge: tuple[Reply, ...] = ()) -> tuple[object, dict[str, int]]:
    """`judge`: the verifier's scripted replies (model "judge"); none: no verifier."""
    task = task_from_local(make_repo(tmp_path / "repo"), issue=ISSUE)
    with OpenAIStandIn() as server:
        server.script_for("m0", *solver_script("add(1, 2) == 3", "a + b"))
        # m1 looks around first, so t0 surely finishes before it and t2 gets t0's slot
        look = Reply.tool_call("bash", {"command": "sleep 1; ls pkg"}, call_id="c0")
        server.script_for("m1", look, *solver_script("add(2, 2) == 4", "a + b"))
        server.script_for("m2", *solver_script("add(3, 2) == 5", "b + a"))
        server.script_for("m3", *solver_script("add(0, 2) == 2", "a + b + 0"))
        endpoints = [ModelConfig(name=m, base_url=server.base_url, api_key_env=None,
                                 free=True).resolve({}) for m in MODELS]  # fmt: skip
        server.script_for("judge", *judge)
        verifier = ModelConfig(name="judge", base_url=server.base_url, api_key_env=None,
                               free=True, supports_logprobs=True).resolve({}) if judge else None
        options = SolveOptions(rollout=RolloutConfig(n=4), sandbox="local",
                               allocation=allocation, regression_tests=False)  # fmt: skip
        outcome = asyncio.run(solve(task, endpoints, options, tmp_path / "run",
                                    verifier=verifier))  # fmt: skip
        asked = {m: sum(r.body.get("model") == m for r in server.requests)
                 for m in (*MODELS, "judge")}  # fmt: skip
    return outcome, asked


def test_consensus_stops_early_and_spends_less_than_fixed(tmp_path: Path) -> None:
    fixed, fixed_asked = _run(tmp_path / "fixed", "fixed")
    consensus, asked = _run(tmp_path / "consensus", "consensus")
    assert all(fixed_asked[m] > 0 for m in MODELS)
    assert asked["m0"] > 0 and asked["m1"] > 0
    # 2 run at a time: t2 starts when t0 finishes and is cancelled when t1 agrees; t3
    # never starts
    assert asked["m3"] == 0
    ids = {c.id for c in consensus.candidates}
    assert {"r0-t0", "r0-t1"} <= ids <= {"r0-t0", "r0-t1", "r0-t2"}
    assert consensus.cost.total.total_tokens < fixed.cost.total.total_tokens
    assert consensus.selection.chosen in {"r0-t0", "r0-t1"}
    record = json.loads((tmp_path / "consensus" / "run" / "allocation.json").read_text())
    assert record["policy"] == "consensus"
    assert record["stopped"].startswith("stopped: 2 candidates in cluster")
    assert "pass all 2 validated tests; saved 2 of 4 trajectories" in record["stopped"]
    assert not (tmp_path / "fixed" / "run" / "allocation.json").exists()
    spent = json.loads((tmp_path / "consensus" / "run" / "cost.json").read_text())
    assert "r0-t2" in spent["by_trajectory"]  # the cancelled one's calls are counted
    assert (tmp_path / "consensus" / "run" / "trajectories" / "r0-t2.json").is_file()
    # what a bench record carries (InstanceRecord.allocation), read from allocation.json:
    # t0, t1, t2 launched, t2 cancelled when t1 agreed, t3 never started
    summary = read_allocation(tmp_path / "consensus" / "run", 4, [0.5, 0.5])
    assert summary is not None and summary.policy == "consensus"
    assert summary.stopped == record["stopped"]
    assert (summary.max_n, summary.launched, summary.finished) == (4, 3, 2)
    assert (summary.cancelled, summary.never_started, summary.saved) == (1, 1, 2)
    assert summary.saved_usd_estimate == 1.0
    assert read_allocation(tmp_path / "fixed" / "run", 4) is None
