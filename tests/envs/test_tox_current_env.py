"""`tox --current-env` runs the tests through `.tox/ENV/bin/python`; an instance image
built here makes those scripts that exec the venv's Python (envs.environment)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from envs import environment
from envs.environment import current_env_pythons
from envs.specs import swebench_spec

SPHINX = swebench_spec("sphinx-doc/sphinx", "3.5")  # tox --current-env -epy39 -v --


def _envs_made(test_cmd: str) -> list[str]:
    spec = SPHINX.model_copy(update={"test_cmd": test_cmd})
    return [cmd.split()[2] for cmd in current_env_pythons(spec)]


def test_each_named_tox_env_gets_its_pythons() -> None:
    assert SPHINX.test_cmd.startswith("tox --current-env -epy39")
    [command] = current_env_pythons(SPHINX)
    assert command.startswith("mkdir -p .tox/py39/bin && ")
    assert "for n in python python3 python3.9;" in command
    assert "exec /opt/venv/bin/python" in command
    assert _envs_made("tox --current-env -e py39,py310 -- -e x") == [
        ".tox/py39/bin", ".tox/py310/bin"]  # after `--`: pytest's arguments
    assert _envs_made("tox --current-env --env=py311 -v") == [".tox/py311/bin"]


def test_other_test_commands_get_nothing() -> None:
    assert _envs_made("tox -epy39 -v --") == []  # tox's own virtualenvs are real ones
    assert _envs_made("pytest -rA") == []
    assert current_env_pythons(swebench_spec("pylint-dev/pylint", "2.15")) == []


def test_the_scripts_run_the_venvs_python(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    monkeypatch.setattr(environment, "VENV", str(venv))
    repo = tmp_path / "repo"
    repo.mkdir()
    for command in current_env_pythons(SPHINX):
        subprocess.run(["sh", "-c", command], cwd=repo, check=True)
    for name in ("python", "python3", "python3.9"):
        script = repo / ".tox/py39/bin" / name
        assert os.access(script, os.X_OK) and not script.is_symlink()
        prefix = subprocess.run([str(script), "-c", "import sys; print(sys.prefix)"],
                                capture_output=True, text=True, check=True).stdout.strip()
        assert prefix == str(venv)  # the venv, not the system Python
