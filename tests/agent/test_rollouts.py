"""Rounds, test writers and resume, through the real pipeline with local sandboxes."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

from agent.llm import ModelConfig
from agent.rollout import RolloutConfig
from envs.sources.local import task_from_local
from quorum.solve import SolveOptions, solve
from tests.agent.scripted import solver_script, writer_script
from tests.helpers.openai_standin import OpenAIStandIn
from tests.sandbox.conftest import make_repo

ISSUE = "add(1, 2) returns -1 instead of 3."


@pytest.fixture
def task(tmp_path: Path):
    return task_from_local(make_repo(tmp_path / "repo"), issue=ISSUE)


def _endpoints(server: OpenAIStandIn, *names: str):
    return [
        ModelConfig(name=n, base_url=server.base_url, api_key_env=None, free=True).resolve({})
        for n in names
    ]


def _requests_for(server: OpenAIStandIn, model: str) -> list[dict]:
    return [r.body for r in server.requests if r.body.get("model") == model]


def test_later_rounds_see_the_best_earlier_candidates(task, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for("m", *solver_script("add(1, 2) == 3", "a + b"))
        server.script_for("m", *solver_script("add(4, 4) == 8", "b + a"))
        options = SolveOptions(rollout=RolloutConfig(n=1, rounds=2), sandbox="local")
        outcome = asyncio.run(solve(task, _endpoints(server, "m"), options, tmp_path / "run"))
        prompts = [json.dumps(body["messages"]) for body in _requests_for(server, "m")]
    assert [c.round for c in outcome.candidates] == [0, 1]
    first_round, second_round = prompts[0], prompts[5]
    assert "<attempt 1>" not in first_round
    assert "<attempt 1>" in second_round and "return a + b" in second_round
    assert "passed 1 of the pooled reproduction tests" in second_round
    # the shared prefix (system prompt and task) is identical across trajectories
    assert (
        _requests_for(server, "m")[0]["messages"][:2]
        == _requests_for(server, "m")[5]["messages"][:2]
    )


def test_test_writers_add_tests_but_no_candidates(task, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for("solver", *solver_script("add(1, 2) == 3", "a + b"))
        server.script_for("writer", *writer_script("add(2, 3) == 5"))
        options = SolveOptions(rollout=RolloutConfig(n=1, test_writers=1), sandbox="local")
        endpoints = _endpoints(server, "solver", "writer")
        outcome = asyncio.run(solve(task, endpoints, options, tmp_path / "run"))
    writer = next(c for c in outcome.candidates if c.solver == "test_writer")
    assert writer.patch == "" and writer.test is not None
    assert writer.test_on_original is not None and not writer.test_on_original.passed
    matrix = json.loads((tmp_path / "run" / "matrix.json").read_text())
    assert writer.test.id in matrix["test_ids"] and len(matrix["test_ids"]) == 2
    assert writer.id not in outcome.selection.scores  # tests only; it is not a candidate
    assert outcome.selection.signals["tests"][outcome.selection.chosen] == 2


def test_an_interrupted_run_resumes_without_redoing_finished_work(task, tmp_path: Path) -> None:
    run = tmp_path / "run"
    options = SolveOptions(rollout=RolloutConfig(n=2), sandbox="local")
    with OpenAIStandIn() as server:
        server.script_for("a", *solver_script("add(1, 2) == 3", "a + b"))
        server.script_for("b", *solver_script("add(2, 2) == 4", "a * b"))
        asyncio.run(solve(task, _endpoints(server, "a", "b"), options, run))
    # Simulate a crash while b was running: its record has no exit and no candidate line.
    b_file = run / "trajectories" / "r0-t1.json"
    record = json.loads(b_file.read_text())
    record["exit"] = None
    b_file.write_text(json.dumps(record))
    lines = (run / "candidates.jsonl").read_text().splitlines()
    (run / "candidates.jsonl").write_text(
        "".join(line + "\n" for line in lines if json.loads(line)["id"] != "r0-t1")
    )
    with OpenAIStandIn() as server:
        server.script_for("b", *solver_script("add(1, 2) == 3", "b + a"))
        outcome = asyncio.run(solve(task, _endpoints(server, "a", "b"), options, run))
        assert _requests_for(server, "a") == []  # a had finished: kept, not paid for again
        assert len(_requests_for(server, "b")) == 5  # b was unfinished: run again
    by_id = {c.id: c for c in outcome.candidates}
    assert "return b + a" in by_id["r0-t1"].patch and "return a + b" in by_id["r0-t0"].patch


def test_repo_summary_lists_the_base_commit_not_the_working_tree(task, tmp_path: Path) -> None:
    from agent.rollout import repo_summary

    (Path(task.repo) / "untracked.py").write_text("x = 1\n")  # not in any commit
    summary = repo_summary(task)
    assert summary.splitlines() == [
        "Files in the repository:", "README.md", "pkg/__init__.py", "pkg/calc.py"
    ]
    assert "and 1 more files" in repo_summary(task, limit=2)
