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


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """GPU tests are the one allowed skip: they run where CUDA is, and skip elsewhere."""
    gpu_items = [item for item in items if "gpu" in item.keywords]
    if not gpu_items:
        return
    try:
        import torch

        has_cuda = torch.cuda.is_available()
    except ImportError:
        has_cuda = False
    if not has_cuda:
        for item in gpu_items:
            item.add_marker(pytest.mark.skip(reason="needs a CUDA GPU"))


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


@pytest.fixture(scope="session")
def embedded_cache() -> Path:
    """The cache the CLI itself uses (QUORUM_CACHE_DIR, else the user's), holding a verified
    embedded model: fetched here on first use, so no test depends on another having run
    first. llama-cpp-python must be installed (`make setup` does it): a failure, not a skip."""
    from agent.llm.embedded import ensure_model, llama_cpp_installed
    from quorum.paths import cache_dir

    if not llama_cpp_installed():
        pytest.fail("llama-cpp-python is not installed: run `make setup`")
    cache = cache_dir(os.environ)
    ensure_model(cache)
    return cache


@pytest.fixture(scope="session")
def embedded_model(embedded_cache: Path) -> Path:
    """The verified GGUF file of the embedded model."""
    from agent.llm.embedded import model_path

    return model_path(embedded_cache)
