"""Running git on the host for task sources: one place for the flags and the error text.

Reads tolerate repositories owned by another uid (safe.directory). Commits made by Quorum
ignore the user's global config and hooks and fix author and dates, so the same files always
give the same commit sha (the bundled examples rely on that)."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from envs.errors import TaskSourceError

GIT_TIMEOUT_S = 600  # clones of large repositories from a slow network

_PINNED = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "quorum",
    "GIT_AUTHOR_EMAIL": "quorum@localhost",
    "GIT_COMMITTER_NAME": "quorum",
    "GIT_COMMITTER_EMAIL": "quorum@localhost",
    "GIT_AUTHOR_DATE": "2024-01-01T00:00:00+0000",
    "GIT_COMMITTER_DATE": "2024-01-01T00:00:00+0000",
}


class GitFailed(TaskSourceError):
    """A git command exited non-zero; `stderr` holds git's reason."""

    def __init__(self, message: str, *, stderr: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.stderr = stderr


def git(*args: str, cwd: Path | str | None = None, pinned: bool = False,
        timeout: float = GIT_TIMEOUT_S) -> str:
    """Run git and return its stdout; raise GitFailed with git's stderr otherwise."""
    env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C"}
    if pinned:
        env.update(_PINNED)
    cmd = ["git", "-c", "safe.directory=*", "-c", "core.hooksPath=" + os.devnull, *args]
    try:
        proc = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except FileNotFoundError as exc:
        raise TaskSourceError("git is not installed", hint="install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise GitFailed(f"git {args[0]} took longer than {timeout:.0f}s", stderr="") from exc
    if proc.returncode != 0:
        reason = proc.stderr.strip().splitlines()
        tail = reason[-1] if reason else f"exit code {proc.returncode}"
        raise GitFailed(f"git {args[0]} failed: {tail}", stderr=proc.stderr)
    return proc.stdout


def commit_all(repo: Path, message: str) -> str:
    """`git init` if needed, commit every file with pinned identity and dates, return the sha."""
    if not (repo / ".git").exists():
        git("-c", "init.defaultBranch=main", "init", "-q", cwd=repo, pinned=True)
    git("add", "-A", cwd=repo, pinned=True)
    git("-c", "commit.gpgsign=false", "commit", "-q", "--allow-empty", "-m", message,
        cwd=repo, pinned=True)
    return git("rev-parse", "HEAD", cwd=repo).strip()
