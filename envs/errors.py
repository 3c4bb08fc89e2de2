"""Errors raised while turning an issue into a Task, and while reading the files Quorum is
given. Each says what to do about it."""

from __future__ import annotations

from pathlib import Path

from sandbox.errors import QuorumError


class LoadError(QuorumError):
    """A file Quorum reads is missing, malformed or invalid. Shown as `FILE:LINE: problem`
    (`FILE: problem` where the format or the error tells no line); `record` names the
    record when it has a name, e.g. `preds.jsonl:3 (astropy-12907): model_patch: ...`."""

    def __init__(
        self,
        message: str,
        *,
        path: Path | str | None = None,
        line: int | None = None,
        record: str | None = None,
        hint: str | None = None,
    ) -> None:
        super().__init__(message, hint=hint)
        self.path = Path(path) if path is not None else None
        self.line = line
        self.record = record
        self.problem = message

    @property
    def where(self) -> str:
        """`FILE:LINE (record)`, as much of it as is known; "" when nothing is."""
        if self.path is None:
            return ""
        where = f"{self.path}:{self.line}" if self.line is not None else str(self.path)
        return f"{where} ({self.record})" if self.record else where

    def __str__(self) -> str:
        text = f"{self.where}: {self.problem}" if self.where else self.problem
        return f"{text}\n  hint: {self.hint}" if self.hint else text


class TaskSourceError(QuorumError):
    """A task could not be built from what was given."""


class NotARepository(TaskSourceError):
    """The path is missing, not a git repository, or not its root."""


class DirtyWorkingTree(TaskSourceError):
    """The repository has uncommitted changes; `files` names them."""

    def __init__(self, message: str, *, files: list[str], hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.files = files


class EmptyIssue(TaskSourceError):
    """The issue has no text to work from."""


class IssueFetchError(TaskSourceError):
    """The issue could not be fetched from its host."""


class IssueUnreachable(IssueFetchError):
    """The API did not answer (DNS, refused connection, timeout, TLS)."""


class IssueNotFound(IssueFetchError):
    """The API answered 404 or 410."""


class RateLimited(IssueFetchError):
    """The API refused for rate limiting; `reset_at` is when to retry (UTC), if known."""

    def __init__(self, message: str, *, reset_at: str | None, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.reset_at = reset_at


class NotAnIssue(TaskSourceError):
    """The URL or the API's answer is a pull request, or not an issue URL at all."""


class CloneError(TaskSourceError):
    """A repository could not be cloned, fetched or checked out."""


class DatasetError(TaskSourceError, LoadError):
    """A dataset file is missing or malformed (it names the file and line), or a selection
    from it (ids, slice, filter) is wrong."""


class InstanceNotFound(DatasetError):
    """Instance ids were asked for that the dataset does not hold."""
