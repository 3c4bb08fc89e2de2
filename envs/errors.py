"""Errors raised while turning an issue into a Task. Each says what to do about it."""

from __future__ import annotations

from sandbox.errors import QuorumError


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


class DatasetError(TaskSourceError):
    """A dataset file is missing or malformed; the message names the line."""


class InstanceNotFound(DatasetError):
    """Instance ids were asked for that the dataset does not hold."""
