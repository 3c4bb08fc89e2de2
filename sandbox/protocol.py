"""The capabilities every sandbox offers. Provisioning (images, snapshots, starting)
lives in the providers, not here."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Protocol, Self, runtime_checkable

from sandbox.result import ExecResult

DEFAULT_OUTPUT_LIMIT = 1_000_000  # bytes kept per stream; the rest is drained and dropped


@runtime_checkable
class Sandbox(Protocol):
    """A repository workspace in which commands run with a hard timeout.

    Paths given to `read_file`/`write_file` are relative to the workspace (or absolute
    inside it); anything that resolves outside is refused with `PathEscape`.
    """

    @property
    def workspace(self) -> str: ...

    @property
    def base_commit(self) -> str: ...

    def exec(
        self,
        cmd: str,
        *,
        timeout: float,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult: ...

    def read_file(self, path: str) -> bytes: ...

    def write_file(self, path: str, data: bytes | str) -> None: ...

    def diff(self) -> str:
        """The working tree against the base commit, new files included (git format)."""
        ...

    def apply_patch(self, patch: str) -> None:
        """Apply a unified diff; raises `PatchApplyError` with git's reason on failure."""
        ...

    def close(self) -> None: ...

    def __enter__(self) -> Self: ...

    def __exit__(self, *exc: object) -> None: ...


# The one definition: how every layer above is handed "a fresh sandbox on the task's base".
SandboxFactory = Callable[[], Sandbox]
