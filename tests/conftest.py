"""Suite-wide set-up. Local sandboxes run commands on the host, so `python` in them must be
the interpreter running the tests (which has pytest), whatever else is on PATH."""

from __future__ import annotations

import os
import sys
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandbox.docker_client import connect
from sandbox.errors import EngineUnavailable
from sandbox.images import ensure_base_image

os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"
# The repositories under test need none of this suite's pytest plugins (hypothesis, asyncio,
# anyio...), whose import costs seconds per pytest process started inside a local sandbox.
os.environ.setdefault("PYTEST_DISABLE_PLUGIN_AUTOLOAD", "1")


@pytest.fixture(scope="session")
def docker_client() -> Iterator[docker.DockerClient]:
    try:
        client = connect()
    except EngineUnavailable as exc:  # a failure, not a skip: `make test` provides the engine
        pytest.fail(f"Docker tests need an engine: {exc}")
    yield client
    client.close()


@pytest.fixture(scope="session")
def base_image(docker_client: docker.DockerClient) -> str:
    return ensure_base_image(docker_client, "bookworm")
