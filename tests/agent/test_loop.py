"""The agent loop's limits and records, with a scripted model and a local sandbox."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent.llm import BudgetCaps, Ledger, LLMClient, ModelConfig, Price
from agent.loop import REPEATED, AgentLimits, run_trajectory
from agent.tools import ToolConfig, default_tools
from agent.trajectory import TrajectorySpec
from envs.task import Task
from sandbox.local import LocalSandbox
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def _run(server: OpenAIStandIn, repo: Path, out: Path, limits: AgentLimits, **model) -> object:
    async def go():
        caps = model.pop("caps", None) or BudgetCaps()
        model.setdefault("free", True)
        config = ModelConfig(name="m", base_url=server.base_url, api_key_env=None, **model)
        client = LLMClient(config.resolve({}), Ledger(caps))
        task = Task(id="t", repo=str(repo), problem_statement="add subtracts")
        spec = TrajectorySpec(
            id="t0", task_id="t", model="m", temperature=0, prompt_variant="default"
        )
        with LocalSandbox(repo, warn=False) as box:
            try:
                return await run_trajectory(
                    spec, task, box, client, default_tools(ToolConfig()), limits=limits,
                    repo_summary="pkg/calc.py", out_dir=out,
                )  # fmt: skip
            finally:
                await client.aclose()

    return asyncio.run(go())


def test_step_limit_and_a_record_after_every_step(repo: Path, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for(
            "m", *[Reply.tool_call("bash", {"command": f"echo {i}"}) for i in range(5)]
        )
        traj = _run(server, repo, tmp_path / "out", AgentLimits(max_steps=3))
    assert traj.exit.status == "step_limit" and len(traj.steps) == 3
    saved = json.loads((tmp_path / "out" / "t0.json").read_text())
    assert saved["exit"]["status"] == "step_limit" and len(saved["steps"]) == 3
    assert (
        saved["steps"][1]["observation"].startswith("exit code 0")
        or "1" in saved["steps"][1]["observation"]
    )


def test_malformed_replies_end_the_trajectory(repo: Path, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for("m", *[Reply.text("no tool call here")] * 3)
        traj = _run(server, repo, tmp_path, AgentLimits(max_format_errors=3))
    assert traj.exit.status == "format_errors" and len(traj.steps) == 3
    assert all(s.format_error and "no tool call" in s.format_error for s in traj.steps)


def test_a_repeated_action_is_pointed_out(repo: Path, tmp_path: Path) -> None:
    same = Reply.tool_call("view", {"path": "pkg/calc.py"})
    with OpenAIStandIn() as server:
        server.script_for("m", same, same, same)
        traj = _run(server, repo, tmp_path, AgentLimits(max_steps=3))
    notes = [s.observation.endswith(REPEATED) for s in traj.steps]
    assert notes == [False, True, True]


def test_budget_exhaustion_is_an_exit_not_a_crash(repo: Path, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for("m", *[Reply.tool_call("bash", {"command": "true"})] * 5)
        traj = _run(
            server, repo, tmp_path, AgentLimits(max_steps=5, max_output_tokens=256),
            free=False, prices=Price(input=1000.0, output=1000.0),
            caps=BudgetCaps(run_usd=0.05),
        )  # fmt: skip
    assert traj.exit.status == "budget_exhausted"
    assert traj.cost_usd <= 0.05


def test_long_observations_are_truncated(repo: Path, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for("m", Reply.tool_call("bash", {"command": "seq 1 100000"}))
        traj = _run(server, repo, tmp_path, AgentLimits(max_steps=1, observation_chars=1000))
    observation = traj.steps[0].observation
    assert len(observation) < 1200 and "truncated" in observation
    assert observation.rstrip().endswith("100000")
