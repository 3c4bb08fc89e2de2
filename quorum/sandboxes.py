"""How a run gets its sandboxes: a Docker snapshot of the task's repository, or local
copies where Docker is not available."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from envs.task import Task
from sandbox.config import DockerSandboxConfig, SnapshotSpec, default_ca_bundle
from sandbox.errors import QuorumError
from sandbox.images import ensure_base_image
from sandbox.local import LocalSandbox
from sandbox.protocol import SandboxFactory
from sandbox.provider import DockerProvider
from sandbox.registry import close_on_signals

Backend = Literal["docker", "local"]


@contextmanager
def sandbox_factory(
    task: Task,
    backend: Backend,
    *,
    run_id: str,
    ca_bundle: Path | None = None,
    progress: Callable[[str], None] | None = None,
    test_network: bool = False,
) -> Iterator[SandboxFactory]:
    """A factory of fresh sandboxes at the task's base commit; every sandbox it made is
    closed on exit, on SIGINT/SIGTERM, and swept by label after a crash. No sandbox has
    network, except one asked for with `tests=True` (a container that only runs tests)
    when `test_network` is set (`--test-network bridge`); the local backend has no
    isolation either way."""
    repo = Path(task.repo)
    if not (repo / ".git").exists() and not (repo / "HEAD").exists():
        raise QuorumError(
            f"task {task.id}: {task.repo} is not a local git repository",
            hint="clone it first, or give a GitHub URL / SWE-bench instance",
        )
    if backend == "local":
        yield lambda tests=False: LocalSandbox(repo, commit=task.base_commit, warn=False)
        return
    provider = DockerProvider.connect(run_id=run_id)
    bundle = ca_bundle if ca_bundle is not None else default_ca_bundle()
    with close_on_signals_if_main(provider):
        snapshot = task.image or provider.snapshot(
            SnapshotSpec(
                base_image=ensure_base_image(
                    provider.client, task.base_image_suite, progress=progress
                ),
                source=repo,
                commit=task.base_commit or "HEAD",
                setup=task.setup,
                ca_bundle=bundle,
            ),
            progress=progress,
        )
        config = DockerSandboxConfig(image=snapshot)
        tests_config = config.model_copy(update={"network": test_network})
        try:
            yield lambda tests=False: provider.start(tests_config if tests else config)
        finally:
            provider.close_all()


@contextmanager
def close_on_signals_if_main(provider: DockerProvider) -> Iterator[None]:
    if threading.current_thread() is threading.main_thread():
        with close_on_signals(provider.registry):
            yield
    else:
        yield
