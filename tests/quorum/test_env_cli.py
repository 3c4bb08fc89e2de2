"""`quorum env exec|shell ID --dataset FILE`: a command, or a terminal, in the sandbox an agent
gets for the instance (its environment image, the repository at the base commit)."""

from __future__ import annotations

import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from envs.microtasks import materialize_tasks
from quorum.cli import app

ID = "micro__windows-1"


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    materialize_tasks(tmp_path / "tasks", ids=[ID])
    return tmp_path / "tasks" / "instances.jsonl"


def _env(*args: str, tmp_path: Path):
    return CliRunner().invoke(app, ["env", *args],
                              env={"QUORUM_CACHE_DIR": str(tmp_path / "cache")})  # fmt: skip


@pytest.mark.docker
def test_exec_sees_only_the_base_commits_history(dataset: Path, tmp_path: Path) -> None:
    [inst] = materialize_tasks(tmp_path / "tasks", ids=[ID])
    result = _env("exec", ID, "--dataset", str(dataset), "--", "git", "log", "--all",
                  "--format=%H", tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    history = subprocess.run(["git", "-C", inst.repo, "log", "--format=%H", inst.base_commit],
                             capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert result.stdout == history
    assert result.stdout.splitlines()[0] == inst.base_commit
    # The agent's python is the environment's: the same sandbox `quorum solve` starts.
    which = _env("exec", ID, "--dataset", str(dataset), "--", "which", "python",
                 tmp_path=tmp_path)  # fmt: skip
    assert which.stdout.strip() == "/usr/local/bin/python", which.output


@pytest.mark.docker
def test_exec_passes_on_the_commands_streams_and_exit_code(dataset: Path, tmp_path: Path) -> None:
    result = _env("exec", ID, "--dataset", str(dataset), "--", "sh", "-c",
                  "echo out; echo err >&2; exit 3", tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 3, result.output
    assert result.stdout == "out\n"
    assert "err\n" in result.stderr


@pytest.mark.docker
def test_exec_stops_a_command_at_its_timeout(dataset: Path, tmp_path: Path) -> None:
    started = time.monotonic()
    result = _env("exec", ID, "--dataset", str(dataset), "--timeout", "2", "--", "sleep", "60",
                  tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 124, result.output
    assert "error: `sleep 60` timed out after 2s" in result.stderr
    assert time.monotonic() - started < 50


def test_exec_in_a_local_sandbox(dataset: Path, tmp_path: Path) -> None:
    [inst] = materialize_tasks(tmp_path / "tasks", ids=[ID])
    result = _env("exec", ID, "--dataset", str(dataset), "--sandbox", "local", "--",
                  "git", "log", "--all", "--format=%H", tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0] == inst.base_commit


def test_an_unknown_instance_is_one_error_line(dataset: Path, tmp_path: Path) -> None:
    result = _env("exec", "micro__windows-2", "--dataset", str(dataset), "--sandbox", "local",
                  "--", "true", tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith("error: not in the dataset: micro__windows-2 (did you mean")
    assert "Traceback" not in result.output


def test_a_missing_dataset_is_one_error_line(tmp_path: Path) -> None:
    result = _env("exec", ID, "--dataset", str(tmp_path / "nope.jsonl"), "--sandbox", "local",
                  "--", "true", tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith("error: ") and "Traceback" not in result.output


def test_a_bad_sandbox_is_refused(dataset: Path, tmp_path: Path) -> None:
    result = _env("exec", ID, "--dataset", str(dataset), "--sandbox", "podman", "--", "true",
                  tmp_path=tmp_path)  # fmt: skip
    assert result.exit_code == 1
    assert result.stderr.startswith("error: --sandbox must be docker or local")


def test_shell_without_a_terminal_refuses(dataset: Path, tmp_path: Path) -> None:
    result = _env("shell", ID, "--dataset", str(dataset), tmp_path=tmp_path)
    assert result.exit_code == 1
    assert result.stderr.startswith("error: `quorum env shell` needs a terminal")
    assert "quorum env exec" in result.stderr


def test_shell_help_says_it_needs_the_docker_cli() -> None:
    result = CliRunner().invoke(app, ["env", "shell", "--help"], env={"COLUMNS": "300"})
    assert result.exit_code == 0
    assert "docker CLI" in " ".join(result.stdout.split())


def _in_a_terminal(argv: list[str], typed: bytes, env: dict[str, str],
                   timeout: float = 120) -> tuple[int, str]:  # fmt: skip
    """Run `argv` with a pseudo-terminal as stdin/stdout/stderr, type `typed`; its exit code
    and everything it wrote."""
    leader, follower = pty.openpty()
    proc = subprocess.Popen(argv, stdin=follower, stdout=follower, stderr=follower, env=env,
                            close_fds=True)  # fmt: skip
    os.close(follower)
    out, sent, deadline = b"", False, time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.5)
            if ready:
                try:
                    chunk = os.read(leader, 4096)
                except OSError:  # the terminal closed: every process on it has gone
                    break
                if not chunk:
                    break
                out += chunk
            if not sent and b"exit to remove the sandbox" in out:
                time.sleep(1)  # the shell in the container reads its terminal by now
                os.write(leader, typed)
                sent = True
            if proc.poll() is not None and not ready:
                break
        return proc.wait(timeout=30), out.decode(errors="replace")
    finally:
        if proc.poll() is None:
            proc.kill()
        os.close(leader)


@pytest.mark.docker
def test_shell_opens_a_terminal_in_the_instances_sandbox(dataset: Path, tmp_path: Path) -> None:
    [inst] = materialize_tasks(tmp_path / "tasks", ids=[ID])
    quorum = str(Path(sys.executable).parent / "quorum")
    env = {**os.environ, "QUORUM_CACHE_DIR": str(tmp_path / "cache")}
    code, out = _in_a_terminal([quorum, "env", "shell", ID, "--dataset", str(dataset)],
                               b"git rev-parse HEAD; pwd; exit 7\r", env)  # fmt: skip
    assert code == 7, out
    assert inst.base_commit in out and "/workspace" in out, out


def test_a_containers_terminal_runs_as_its_commands_do() -> None:
    from sandbox.docker_sandbox import DockerSandbox

    box = DockerSandbox(None, "c0ffee", workspace="/workspace", user="agent",  # type: ignore[arg-type]
                        env={"A": "1"}, output_limit=10)  # fmt: skip
    assert box.terminal_argv(["bash"]) == [
        "docker", "exec", "-it", "-w", "/workspace", "-u", "agent", "-e", "A=1", "c0ffee", "bash",
    ]  # fmt: skip
