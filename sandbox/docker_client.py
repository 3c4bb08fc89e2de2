"""Connecting to the Docker engine, and translating docker-py's errors at the boundary."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import docker
import docker.errors
import requests.exceptions

from sandbox.errors import EngineUnavailable, ImageMissing, OutOfDisk, SandboxError

ENGINE_HINT = (
    "start the engine: `make setup` installs Debian's docker.io and starts dockerd as root; "
    "or set DOCKER_HOST to a reachable engine"
)


# One client serves every sandbox of a run; docker-py's default pool of 10 connections
# would open and drop a connection per call beyond that many concurrent calls.
POOL_SIZE = 64


def connect(base_url: str | None = None, *, timeout: float = 120) -> docker.DockerClient:
    """A client for the engine at `base_url` (default: DOCKER_HOST or the local socket)."""
    try:
        client = (
            docker.DockerClient(base_url=base_url, timeout=timeout, max_pool_size=POOL_SIZE)
            if base_url
            else docker.from_env(timeout=timeout, max_pool_size=POOL_SIZE)
        )
        client.ping()
    except (docker.errors.DockerException, requests.exceptions.RequestException) as exc:
        where = base_url or "the local Docker socket"
        raise EngineUnavailable(
            f"Docker engine at {where} does not answer: {exc}", hint=ENGINE_HINT
        ) from exc
    return client


def engine_answers(base_url: str | None = None) -> bool:
    try:
        connect(base_url, timeout=5).close()
    except EngineUnavailable:
        return False
    return True


@contextlib.contextmanager
def translate_docker_errors(action: str) -> Iterator[None]:
    """Turn docker-py errors raised while doing `action` into Quorum errors with a fix."""
    try:
        yield
    except docker.errors.ImageNotFound as exc:
        raise ImageMissing(
            f"{action}: image not found ({exc.explanation})",
            hint="build the base images with `quorum images build-base`",
        ) from exc
    except docker.errors.APIError as exc:
        text = str(exc.explanation or exc)
        if "no space left" in text.lower():
            raise OutOfDisk(
                f"{action}: the Docker engine is out of disk space",
                hint="free space with `docker system prune` or `quorum sandbox gc`",
            ) from exc
        raise SandboxError(f"{action}: Docker engine error: {text}") from exc
    except (docker.errors.DockerException, requests.exceptions.ConnectionError) as exc:
        raise EngineUnavailable(f"{action}: {exc}", hint=ENGINE_HINT) from exc
