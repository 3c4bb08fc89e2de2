"""Fixtures: a small git repository holding a Python package and one sample source file
per supported language, and a fast local sandbox on a fresh copy of it for each test."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from agent.tools import Tool, ToolConfig, default_tools
from sandbox.local import LocalSandbox
from sandbox.protocol import Sandbox

SAMPLES = Path(__file__).parent / "samples"
CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"

Call = Callable[..., str]


def build_repo(root: Path) -> Path:
    (root / "pkg" / "sub" / "deep").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "pkg" / "sub" / "deep" / "hidden.txt").write_text("three levels down\n")
    (root / "README.md").write_text("calc\n")
    (root / "logo.bin").write_bytes(b"\x89PNG\r\n\x1a\n\xff\xfe\x00binary")
    shutil.copytree(SAMPLES, root / "src")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return root


@pytest.fixture(scope="session")
def source_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return build_repo(tmp_path_factory.mktemp("tools") / "repo")


@pytest.fixture
def fresh_sandbox(source_repo: Path) -> Iterator[Sandbox]:
    """A sandbox of its own, for a test that breaks more than a reset repairs."""
    with LocalSandbox(source_repo, warn=False) as box:
        yield box


@pytest.fixture(scope="session")
def _shared_sandbox(source_repo: Path) -> Iterator[Sandbox]:
    with LocalSandbox(source_repo, warn=False) as box:
        yield box


@pytest.fixture
def sandbox(_shared_sandbox: Sandbox) -> Iterator[Sandbox]:
    """One sandbox for the session, put back to the base commit after each test: a reset
    costs a few milliseconds, a fresh copy of the repository a few hundred."""
    yield _shared_sandbox
    reset = _shared_sandbox.exec("git reset -q --hard && git clean -ffdxq", timeout=60)
    assert reset.ok, reset.output


def caller(sandbox: Sandbox, config: ToolConfig | None = None) -> Call:
    """`call("view", path=...)`: run a tool by name, as the loop would."""
    tools: dict[str, Tool] = {t.spec.name: t for t in default_tools(config)}

    def call(tool: str, /, **args: object) -> str:
        return tools[tool].run(sandbox, args)

    return call


@pytest.fixture
def call(sandbox: Sandbox) -> Call:
    return caller(sandbox)
