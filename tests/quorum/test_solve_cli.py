"""`quorum solve` from the command line: exit codes, the patch on stdout, and bad input that
gets a clear message and a run directory holding the evidence."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from quorum.cli import app
from tests.agent.scripted import solver_script
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

KEY_ENV = "QUORUM_TEST_KEY"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo")


def _models_file(tmp_path: Path, server: OpenAIStandIn, *names: str) -> Path:
    body = "".join(
        f'[models.{n}]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_ENV}"\nfree = true\n'
        for n in names
    )
    path = tmp_path / "models.toml"
    path.write_text(body)
    return path


def _solve(*args: str) -> object:
    runner = CliRunner()
    return runner.invoke(app, ["solve", *args], env={KEY_ENV: "sk-test-key-123"})


def test_exit_0_prints_the_patch(repo: Path, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for("good", *solver_script("add(1, 2) == 3", "a + b"))
        result = _solve(
            str(repo), "--issue", "add subtracts", "-n", "1", "--model", "good",
            "--models-file", str(_models_file(tmp_path, server, "good")),
            "--sandbox", "local", "--out", str(tmp_path / "run"),
        )  # fmt: skip
    assert result.exit_code == 0, result.output
    patch = (tmp_path / "run" / "patch.diff").read_text()
    assert "+    return a + b" in patch and patch in result.stdout
    assert "sk-test-key-123" not in result.output


def test_exit_2_when_a_model_answers_garbage(repo: Path, tmp_path: Path) -> None:
    with OpenAIStandIn() as server:
        server.script_for("garbage", *[Reply.text("I think the answer is 42.")] * 5)
        result = _solve(
            str(repo), "--issue", "add subtracts", "-n", "1", "--model", "garbage",
            "--models-file", str(_models_file(tmp_path, server, "garbage")),
            "--sandbox", "local", "--out", str(tmp_path / "run"),
        )  # fmt: skip
    assert result.exit_code == 2, result.output
    run = tmp_path / "run"
    assert "abstained" in (run / "report.md").read_text()
    assert "format_errors" in (run / "candidates.jsonl").read_text()
    assert (run / "patch.diff").read_text() == ""


@pytest.mark.parametrize(
    ("make_args", "message"),
    [
        (lambda repo, tmp: [str(tmp), "--issue", "x"], "not a git repository"),
        (lambda repo, tmp: [str(repo), "--issue", "  "], "empty"),
        (lambda repo, tmp: [str(repo)], "no issue given"),
        (
            lambda repo, tmp: [
                "https://github.com/o/r/issues/1",
                "--github-api",
                "http://127.0.0.1:9",
            ],
            "127.0.0.1:9",
        ),
        (lambda repo, tmp: [str(repo), "--issue", "x", "--sandbox", "vm"], "docker or local"),
    ],
    ids=["not-a-repo", "empty-issue", "no-issue", "unreachable-url", "bad-sandbox"],
)
def test_bad_input_is_explained(repo: Path, tmp_path: Path, make_args, message: str) -> None:
    run = tmp_path / "run"
    (tmp_path / "plain").mkdir()
    # Case arguments last: with repeated options the last one wins (`--sandbox vm`).
    result = _solve("--out", str(run), "--sandbox", "local", *make_args(repo, tmp_path / "plain"))
    assert result.exit_code == 1
    assert message in result.output
    if message != "docker or local":
        assert message in (run / "error.txt").read_text()
        assert (run / "input.json").is_file()


def test_dirty_tree_names_the_changed_files(repo: Path, tmp_path: Path) -> None:
    (repo / "pkg" / "calc.py").write_text("changed\n")
    result = _solve(str(repo), "--issue", "x", "--out", str(tmp_path / "run"))
    assert result.exit_code == 1 and "pkg/calc.py" in result.output
