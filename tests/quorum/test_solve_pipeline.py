"""The whole pipeline with the stand-in server playing capable models: four trajectories
(two correct, one wrong, one crashing) in real Docker sandboxes; the correct patch wins."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent.llm import ModelConfig
from agent.rollout import RolloutConfig
from envs.sources.local import task_from_local
from quorum.solve import SolveOptions, solve
from tests.agent.scripted import solver_script
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

pytestmark = pytest.mark.docker
ISSUE = "add(1, 2) returns -1 instead of 3: pkg.calc.add subtracts."
def _model(name: str, server: OpenAIStandIn) -> ModelConfig:
    return ModelConfig(name=name, base_url=server.base_url, api_key_env=None, free=True)


def test_the_correct_patch_is_chosen(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    task = task_from_local(repo, issue=ISSUE).model_copy(
        update={"setup": ["pip install -q pytest"]}
    )
    with OpenAIStandIn() as server:
        server.script_for("good-a", *solver_script("add(1, 2) == 3", "a + b"))
        server.script_for("good-b", *solver_script("add(5, 5) == 10", "b + a"))
        server.script_for("wrong", *solver_script("add(2, 2) == 4", "a * b"))
        server.script_for("crash", Reply.error(400, "the model fell over", err_type="invalid"))
        names = ["good-a", "wrong", "good-b", "crash"]
        endpoints = [_model(name, server).resolve({}) for name in names]
        options = SolveOptions(rollout=RolloutConfig(n=4, concurrency=4), budget_usd=1.0)
        outcome = asyncio.run(solve(task, endpoints, options, tmp_path / "run"))

    by_id = {c.id: c for c in outcome.candidates}
    assert {c.model: c.exit_status for c in by_id.values()} == {
        "good-a": "submitted", "wrong": "submitted", "good-b": "submitted", "crash": "crashed",
    }  # fmt: skip
    for cand in by_id.values():
        if cand.model != "crash":
            assert cand.reproduces, f"{cand.id}: its own test must fail before, pass after"
            assert "test_repro_issue.py" not in cand.patch  # the test is not part of the fix
    chosen = by_id[outcome.selection.chosen]
    assert chosen.model in ("good-a", "good-b")
    assert "+    return a + b" in outcome.patch or "+    return b + a" in outcome.patch
    tests_passed = outcome.selection.signals["tests"]
    assert tests_passed[chosen.id] == 3  # passes all three valid tests
    wrong = next(c for c in by_id.values() if c.model == "wrong")
    assert tests_passed[wrong.id] == 1  # only its own test

    run = tmp_path / "run"
    for name in ("matrix.json", "selection.json", "report.md", "patch.diff", "cost.json"):
        assert (run / name).is_file(), name
    assert (run / "patch.diff").read_text() == outcome.patch
    assert len(list((run / "trajectories").glob("*.json"))) == 4
    assert len(list((run / "tests").glob("*.json"))) == 3
    lines = (run / "candidates.jsonl").read_text().splitlines()
    assert sorted(json.loads(line)["id"] for line in lines) == sorted(by_id)
    assert "hidden" not in json.loads((run / "task.json").read_text())
    assert outcome.cost.total.calls == 15  # 3 solvers x 5 steps; the 400 was not billed
    crash = next(c for c in by_id.values() if c.model == "crash")
    assert crash.cost_usd == 0 and crash.patch == ""
