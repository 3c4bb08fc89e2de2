"""Fixtures: a small git repository, a Docker provider, and a sandbox of each backend."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandbox.config import DockerSandboxConfig, SnapshotSpec
from sandbox.local import LocalSandbox
from sandbox.protocol import Sandbox
from sandbox.provider import DockerProvider

BACKENDS = ["local", pytest.param("docker", marks=pytest.mark.docker)]


def make_repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text("def add(a, b):\n    return a - b\n")
    (root / "README.md").write_text("calc\n")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "-C", str(root), "add", "-A"], check=True)
    subprocess.run([*git, "-C", str(root), "commit", "-qm", "init"], check=True)
    return root


@pytest.fixture(scope="session")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Read-only source repository; session-scoped so its snapshot is built once."""
    return make_repo(tmp_path_factory.mktemp("source") / "repo")


@pytest.fixture
def provider(docker_client: docker.DockerClient) -> Iterator[DockerProvider]:
    provider = DockerProvider(docker_client, run_id="pytest")
    yield provider
    provider.close_all()


@pytest.fixture(scope="session")
def snapshot(docker_client: docker.DockerClient, base_image: str, repo: Path) -> str:
    return DockerProvider(docker_client).snapshot(SnapshotSpec(base_image=base_image, source=repo))


@pytest.fixture(params=BACKENDS)
def sandbox(request: pytest.FixtureRequest, repo: Path) -> Iterator[Sandbox]:
    if request.param == "local":
        box: Sandbox = LocalSandbox(repo, warn=False)
    else:
        provider = request.getfixturevalue("provider")
        box = provider.start(DockerSandboxConfig(image=request.getfixturevalue("snapshot")))
    with box:
        yield box
