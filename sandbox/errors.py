"""The project's exception root and the sandbox's errors.

`QuorumError` is the one root every package raises from. It lives here because `sandbox/`
is the bottom layer: every other package may import it, and it may import nothing of ours.
Third-party errors (docker-py, subprocess, OS) are translated into these at the boundary,
each with a message that says what to do.
"""

from __future__ import annotations


class QuorumError(Exception):
    """Root of every error Quorum raises on purpose. `hint` says what the user can do."""

    def __init__(self, message: str, *, hint: str | None = None) -> None:
        super().__init__(message)
        self.hint = hint

    def __str__(self) -> str:
        base = super().__str__()
        return f"{base}\n  hint: {self.hint}" if self.hint else base


class SandboxError(QuorumError):
    """A sandbox could not do what was asked."""


class EngineUnavailable(SandboxError):
    """The Docker engine does not answer."""


class ImageMissing(SandboxError):
    """An image the sandbox needs is not present locally."""


class OutOfDisk(SandboxError):
    """The engine or the host ran out of disk space."""


class PathEscape(SandboxError):
    """A path points outside the sandbox's workspace."""


class PatchApplyError(SandboxError):
    """A patch does not apply; the message carries git's reason."""


class SandboxClosed(SandboxError):
    """The sandbox was used after close()."""
