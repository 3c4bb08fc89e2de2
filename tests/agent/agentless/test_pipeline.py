"""The agentless pipeline against the scripted stand-in server, in local sandboxes: each
stage, the repair fallback chain, malformed replies recorded (never a crash), edits that
change nothing dropped, and a whole solve that picks the correct patch."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent.agentless import AgentlessConfig, run_agentless
from agent.llm import Ledger, LLMClient, ModelConfig
from agent.rollout import RolloutConfig, plan_round
from agent.trajectory import Trajectory, TrajectorySpec
from envs.sources.local import task_from_local
from envs.task import Task
from quorum.solve import SolveOptions, solve
from sandbox.local import LocalSandbox
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

ISSUE = "add(1, 2) returns -1 instead of 3."
TEST = "```python\nfrom pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n```"


def fix(new: str, old: str = "return a - b", path: str = "pkg/calc.py") -> Reply:
    return Reply.text(
        f"{path}\n```python\n<<<<<<< SEARCH\n    {old}\n=======\n    {new}\n>>>>>>> REPLACE\n```"
    )


@pytest.fixture
def task(tmp_path: Path):
    repo = make_repo(tmp_path / "repo")
    return task_from_local(repo, issue=ISSUE)


def _endpoint(server: OpenAIStandIn, name: str):
    return ModelConfig(name=name, base_url=server.base_url, api_key_env=None, free=True).resolve({})


def _run(task, tmp_path: Path, *replies: Reply, config: AgentlessConfig | None = None,
         role: str = "solver") -> tuple[Trajectory, str, list[dict]]:  # fmt: skip
    spec = TrajectorySpec(id="r0-t1", task_id=task.id, model="m", temperature=0.0,
                          prompt_variant="default", solver="agentless", role=role)  # fmt: skip

    async def go():
        with OpenAIStandIn() as server:
            server.script_for("m", *replies)
            async with LLMClient(_endpoint(server, "m"), Ledger()) as client:
                with LocalSandbox(Path(task.repo), warn=False) as box:
                    traj = await run_agentless(
                        spec, task, box, client, config=config or AgentlessConfig(),
                        out_dir=tmp_path / "trajectories",
                    )  # fmt: skip
                    diff = box.diff()
            return traj, diff, [r.body for r in server.requests]

    return asyncio.run(go())


def test_each_stage_is_a_recorded_step(task, tmp_path: Path) -> None:
    traj, diff, requests = _run(
        task,
        tmp_path,
        Reply.text("The bug is in:\npkg/calc.py"),
        Reply.text(TEST),
        fix("return a + b"),
    )
    assert traj.exit is not None and traj.exit.status == "submitted"
    assert [s.tool for s in traj.steps] == ["localize", "reproduce", "repair"]
    assert traj.steps[0].args["files"] == ["pkg/calc.py"]
    assert "fails on the original code" in traj.steps[1].observation
    assert "+    return a + b" in diff and "test_repro_issue.py" in diff
    # the repository map shows signatures; the repair prompt shows the picked file whole
    assert "def add(a, b):" in requests[0]["messages"][1]["content"]
    assert "return a - b" in requests[2]["messages"][1]["content"]
    saved = Trajectory.load(tmp_path / "trajectories" / "r0-t1.json")
    assert saved.exit == traj.exit and len(saved.steps) == 3


def test_fallback_chain_moves_on_after_an_unusable_reply(task, tmp_path: Path) -> None:
    function = Reply.text("```python\ndef add(a, b):\n    return a + b\n```")
    traj, diff, _ = _run(
        task, tmp_path, Reply.text("pkg/calc.py"), Reply.text(TEST),
        fix("return a + b", old="return b - a"),  # SEARCH text that is not in the file
        function,
    )  # fmt: skip
    repairs = [s for s in traj.steps if s.tool == "repair"]
    assert [s.args["format"] for s in repairs] == ["search_replace", "function"]
    assert "not found" in (repairs[0].format_error or "")
    assert repairs[1].format_error is None
    assert traj.exit is not None and traj.exit.reason == "edit by function"
    assert "+    return a + b" in diff


def test_code_instead_of_search_replace_blocks_is_read_as_a_rewrite(task, tmp_path) -> None:
    reply = Reply.text(
        "```python\n# pkg/calc.py\n>>>>>>> REPLACE\ndef add(a, b):\n    return a + b\n```"
    )
    traj, diff, _ = _run(task, tmp_path, Reply.text("pkg/calc.py"), Reply.text(TEST), reply)
    [repair] = [s for s in traj.steps if s.tool == "repair"]
    assert repair.args["format"] == "search_replace" and repair.format_error is None
    assert "read as a definition rewrite" in repair.observation
    assert "+    return a + b" in diff


def test_whole_file_rewrite_is_the_last_resort(task, tmp_path: Path) -> None:
    whole = Reply.text("```python\ndef add(a, b):\n    return b + a\n```")
    traj, diff, _ = _run(
        task, tmp_path, Reply.text("pkg/calc.py"), Reply.text(TEST),
        Reply.text("I would change the subtraction."),  # no block at all
        Reply.text("```python\nx = 1\n```"),  # no definition to put back
        whole,
    )  # fmt: skip
    assert [s.args.get("format") for s in traj.steps if s.tool == "repair"] == [
        "search_replace", "function", "file",
    ]  # fmt: skip
    assert traj.exit is not None and traj.exit.reason == "edit by file"
    assert "+    return b + a" in diff


def test_malformed_replies_are_recorded_not_fatal(task, tmp_path: Path) -> None:
    garbage = Reply.text("Sure! I can help with that.")
    traj, diff, _ = _run(task, tmp_path, *[garbage] * 8)
    assert traj.exit is not None and traj.exit.status == "format_errors"
    localize = traj.steps[0]
    assert "keyword ranking" in (localize.format_error or "")
    assert localize.args["files"][0] == "pkg/calc.py"  # `add` is named in the issue
    repro = [s for s in traj.steps if s.tool == "reproduce"]
    assert len(repro) == 2 and all("no pytest test" in (s.format_error or "") for s in repro)
    assert all(s.format_error for s in traj.steps if s.tool == "repair")
    assert "no usable edit" in traj.exit.reason
    assert diff == ""


def test_an_edit_identical_to_the_original_is_dropped(task, tmp_path: Path) -> None:
    same = Reply.text("```python\ndef add(a, b):\n    return a - b\n```")
    traj, diff, _ = _run(
        task, tmp_path, Reply.text("pkg/calc.py"), Reply.text(TEST),
        fix("return a - b"), same, same,
    )  # fmt: skip
    repairs = [s for s in traj.steps if s.tool == "repair"]
    assert len(repairs) == 2 and all("identical" in (s.format_error or "") for s in repairs)
    # twice unchanged: the whole-file rewrite, the costliest reply, is not asked for
    assert [s.args["format"] for s in repairs] == ["search_replace", "function"]
    assert traj.exit is not None and traj.exit.status == "format_errors"
    assert "pkg/calc.py" not in diff


def test_a_test_that_passes_on_the_original_is_retried_then_dropped(task, tmp_path: Path) -> None:
    passing = Reply.text("```python\ndef test_nothing():\n    assert True\n```")
    traj, diff, requests = _run(
        task, tmp_path, Reply.text("pkg/calc.py"), passing, passing, fix("return a + b")
    )
    repro = [s for s in traj.steps if s.tool == "reproduce"]
    assert len(repro) == 2 and all("passes on the original" in s.observation for s in repro)
    assert "did not work" in requests[2]["messages"][1]["content"]  # the retry is told why
    assert "test_repro_issue.py" not in diff and "+    return a + b" in diff


def test_a_test_writer_only_reproduces(task, tmp_path: Path) -> None:
    traj, diff, _ = _run(task, tmp_path, Reply.text("pkg/calc.py"), Reply.text(TEST),
                         role="test_writer")  # fmt: skip
    assert [s.tool for s in traj.steps] == ["localize", "reproduce"]
    assert "pkg/calc.py" not in diff and "test_repro_issue.py" in diff


def test_mixed_alternates_solvers() -> None:
    config = RolloutConfig(n=4, solver="mixed", test_writers=1)
    specs = plan_round(Task(id="t", repo=".", problem_statement="x"), 0, config, ["m"])
    assert [s.solver for s in specs] == ["agent", "agentless", "agent", "agentless", "agent"]
    only = plan_round(Task(id="t", repo=".", problem_statement="x"), 0,
                      RolloutConfig(n=2, solver="agentless"), ["m"])  # fmt: skip
    assert {s.solver for s in only} == {"agentless"}


def test_agentless_solve_end_to_end_picks_the_correct_patch(task, tmp_path: Path) -> None:
    wrong_test = (
        "```python\nfrom pkg.calc import add\n\n\ndef test_add():\n    assert add(2, 2) == 4\n```"
    )
    with OpenAIStandIn() as server:
        server.script_for("good", Reply.text("pkg/calc.py"), Reply.text(TEST), fix("return a + b"))
        server.script_for("bad", Reply.text("no idea"), Reply.text(wrong_test), fix("return a * b"))
        options = SolveOptions(rollout=RolloutConfig(n=2, solver="agentless"), sandbox="local")
        endpoints = [_endpoint(server, "good"), _endpoint(server, "bad")]
        outcome = asyncio.run(solve(task, endpoints, options, tmp_path / "run"))
    by_id = {c.id: c for c in outcome.candidates}
    assert {c.solver for c in outcome.candidates} == {"agentless"}
    assert by_id["r0-t0"].reproduces and "return a + b" in by_id["r0-t0"].patch
    assert "return a * b" in by_id["r0-t1"].patch  # add(2, 2) == 4 passes a * b too
    assert outcome.selection.chosen == "r0-t0"
    assert "return a + b" in (tmp_path / "run" / "patch.diff").read_text()
    cost = json.loads((tmp_path / "run" / "cost.json").read_text())
    callers = json.dumps(cost)
    assert "agentless_repair" in callers and "agentless_repro" in callers
    saved = json.loads((tmp_path / "run" / "trajectories" / "r0-t1.json").read_text())
    assert saved["spec"]["solver"] == "agentless" and saved["exit"]["status"] == "submitted"


COPIED = Reply.text("mathutils.py\n<<<<<<< SEARCH\n    return x / 3\n=======\n"
                    "    return x / 2\n>>>>>>> REPLACE")  # fmt: skip


def test_a_pasted_format_example_is_caught_and_asked_again(task, tmp_path: Path) -> None:
    """The small model's habit: its SEARCH/REPLACE answer is the prompt's example. The
    reply is discarded as a copy and the same format is asked once more, saying so."""
    traj, diff, requests = _run(task, tmp_path, Reply.text("pkg/calc.py"), Reply.text(TEST),
                                COPIED, fix("return a + b"))  # fmt: skip
    repairs = [s for s in traj.steps if s.tool == "repair"]
    assert [s.args["format"] for s in repairs] == ["search_replace", "search_replace"]
    assert "copies the format's example" in (repairs[0].format_error or "")
    assert "repeated the example" in requests[3]["messages"][-1]["content"]
    assert "repeated the example" not in requests[2]["messages"][-1]["content"]
    assert "+    return a + b" in diff


def test_a_second_copy_moves_on_to_the_next_format(task, tmp_path: Path) -> None:
    function = Reply.text("```python\ndef add(a, b):\n    return a + b\n```")
    traj, diff, _ = _run(task, tmp_path, Reply.text("pkg/calc.py"), Reply.text(TEST),
                         COPIED, COPIED, function)  # fmt: skip
    formats = [s.args["format"] for s in traj.steps if s.tool == "repair"]
    assert formats == ["search_replace", "search_replace", "function"]
    assert "+    return a + b" in diff
