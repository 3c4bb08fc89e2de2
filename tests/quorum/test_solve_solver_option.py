"""`quorum solve --solver`: the agentless pipeline from the command line."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.rollout import RolloutConfig, plan_round
from envs.task import Task
from quorum.cli import app
from quorum.models import embedded_config
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

TEST = "```python\nfrom pkg.calc import add\n\n\ndef test_add():\n    assert add(1, 2) == 3\n```"
FIX = "pkg/calc.py\n<<<<<<< SEARCH\n    return a - b\n=======\n    return a + b\n>>>>>>> REPLACE"


def _solve_with_a_small_model(tmp_path: Path, config_extra: str, *flags: str):
    """`quorum solve` on make_repo's bug with the scripted model `small` (the agentless
    pipeline's three replies: localise, test, edit); the run directory is tmp_path/run."""
    repo = make_repo(tmp_path / "repo")
    with OpenAIStandIn() as server:
        server.script_for("small", Reply.text("pkg/calc.py"), Reply.text(TEST), Reply.text(FIX))
        models = tmp_path / "models.toml"
        models.write_text(
            f'[models.small]\nbase_url = "{server.base_url}"\nfree = true\n'
            f'api_key_env = "QUORUM_TEST_KEY"\n{config_extra}'
        )
        result = CliRunner(env={"QUORUM_TEST_KEY": "sk-test"}).invoke(app, [
            "solve", str(repo), "--issue", "add(1, 2) returns -1", "-n", "1", *flags,
            "--model", "small", "--models-file", str(models),
            "--sandbox", "local", "--out", str(tmp_path / "run"),
        ])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "+    return a + b" in (tmp_path / "run" / "patch.diff").read_text()
    return json.loads((tmp_path / "run" / "options.json").read_text())


def test_solver_agentless_from_the_command_line(tmp_path: Path) -> None:
    options = _solve_with_a_small_model(tmp_path, "", "--solver", "agentless")
    assert options["rollout"]["solver"] == "agentless"


def test_an_unknown_solver_is_refused(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["solve", str(tmp_path), "--issue", "x", "--solver", "big"])
    assert result.exit_code == 1 and "--solver must be" in result.output


def test_auto_is_the_default_and_gives_a_small_model_the_agentless_pipeline(
    tmp_path: Path,
) -> None:
    """No --solver: a model whose config says size = "small" gets agentless; its
    trajectory records the solver it ran."""
    options = _solve_with_a_small_model(tmp_path, 'size = "small"\n')
    assert options["rollout"]["solver"] == "auto"
    traj = json.loads((tmp_path / "run" / "trajectories" / "r0-t0.json").read_text())
    assert traj["spec"]["solver"] == "agentless"


def test_auto_plans_per_model_size() -> None:
    """Alternating models: each trajectory's solver follows its own model's size."""
    config = RolloutConfig(n=4, solver="auto")
    specs = plan_round(Task(id="t", repo=".", problem_statement="x"), 0, config,
                       ["tiny", "big"], small_models={"tiny"})  # fmt: skip
    assert [(s.model, s.solver) for s in specs] == [
        ("tiny", "agentless"), ("big", "agent"), ("tiny", "agentless"), ("big", "agent"),
    ]
    assert {s.solver for s in plan_round(Task(id="t", repo=".", problem_statement="x"), 0,
                                         config, ["big"])} == {"agent"}  # fmt: skip


def test_the_embedded_model_is_small() -> None:
    assert embedded_config("http://127.0.0.1:1/v1", "embedded", 8192, logprobs=False).size == (
        "small"
    )
