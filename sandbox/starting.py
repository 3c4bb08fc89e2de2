"""A sandbox that is still starting. Starting a container costs about as much as a model
call; a trajectory that holds a `StartingSandbox` asks the model for its first action while
the container comes up, and its first tool call waits only for what is left."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Executor, Future
from typing import Self

from sandbox.protocol import Sandbox
from sandbox.result import ExecResult


class StartingSandbox:
    """Every call blocks until the sandbox has started (call from a worker thread, not the
    event loop); a start that failed raises its error at the first call."""

    def __init__(self, started: Future[Sandbox]) -> None:
        self._started = started

    @classmethod
    def begin(cls, start: Callable[[], Sandbox], executor: Executor) -> StartingSandbox:
        return cls(executor.submit(start))

    @property
    def ready(self) -> bool:
        return self._started.done()

    def _box(self) -> Sandbox:
        return self._started.result()

    @property
    def workspace(self) -> str:
        return self._box().workspace

    @property
    def base_commit(self) -> str:
        return self._box().base_commit

    def exec(
        self,
        cmd: str,
        *,
        timeout: float,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        return self._box().exec(cmd, timeout=timeout, workdir=workdir, env=env)

    def read_file(self, path: str) -> bytes:
        return self._box().read_file(path)

    def write_file(self, path: str, data: bytes | str) -> None:
        self._box().write_file(path, data)

    def diff(self) -> str:
        return self._box().diff()

    def apply_patch(self, patch: str) -> None:
        self._box().apply_patch(patch)

    def close(self) -> None:
        """Waits for a start in progress, so a container is never left behind."""
        if self._started.cancel():
            return
        try:
            box = self._started.result()
        except Exception:  # it never started: nothing to close
            return
        box.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
