"""From the selected patch to a commit on GitHub, made by the app, never by an agent.

The patch text (selection's choice, `patch.diff`) is applied with `git apply` to a clean
worktree of the job's clone at the base commit, outside any sandbox; the changed files'
contents become one commit through the Git Database API (`RepoClient.commit_files`). So the
commit holds exactly the patch: nothing an agent did to its own repository's refs, config
or history can reach GitHub. A patch touching a protected path is refused before any write."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Sequence
from fnmatch import fnmatch
from pathlib import Path

from quorum.app.github_ops import GitHubError, PullInfo, RepoClient
from sandbox.errors import QuorumError

_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C"}  # fmt: skip


class PublishError(QuorumError):
    """The selected patch cannot be published as it is."""


class ProtectedPathError(PublishError):
    def __init__(self, paths: Sequence[str], protected: Sequence[str]) -> None:
        super().__init__(
            f"the selected patch changes {', '.join(paths)}, which this repository protects "
            f"({', '.join(protected)}); nothing was pushed",
            hint="make the change by hand, or change `protected_paths:` in .github/quorum.yml "
            "(.github/workflows/ stays protected)",
        )
        self.paths = list(paths)


def branch_for(number: int) -> str:
    return f"quorum/issue-{number}"


def is_protected(path: str, protected: Sequence[str]) -> bool:
    """A prefix ending in / protects a folder; any other entry is a path or a glob."""
    for rule in protected:
        if rule.endswith("/") and (path + "/").startswith(rule):
            return True
        if path == rule or fnmatch(path, rule):
            return True
    return False


def changed_files(clone: Path, base_sha: str, patch: str,
                  protected: Sequence[str]) -> dict[str, str | None]:
    """Path -> new content (None: deleted) of `patch` applied at `base_sha` of `clone`."""
    if not patch.strip():
        raise PublishError("the selected candidate has an empty patch; nothing to publish")
    work = Path(tempfile.mkdtemp(prefix="quorum-publish-"))
    tree = work / "tree"
    try:
        _git(clone, "worktree", "add", "--detach", "--quiet", str(tree), base_sha)
        (work / "patch.diff").write_text(patch)
        try:
            _git(tree, "apply", "--whitespace=nowarn", str(work / "patch.diff"))
        except PublishError as exc:
            raise PublishError(f"the selected patch does not apply to {base_sha[:12]}: {exc}",
                               hint="the base branch may have moved; run Quorum again") from exc
        _git(tree, "add", "-A")
        listed = _git(tree, "diff", "--cached", "--name-status", "--no-renames", "-z", base_sha)
        fields = [f for f in listed.split("\0") if f]
        changes = dict(zip(fields[1::2], fields[0::2], strict=True))  # path -> status letter
        refused = sorted(p for p in changes if is_protected(p, protected))
        if refused:
            raise ProtectedPathError(refused, protected)
        files: dict[str, str | None] = {}
        for path, status in changes.items():
            if status == "D":
                files[path] = None
                continue
            try:
                files[path] = (tree / path).read_bytes().decode("utf-8")
            except UnicodeDecodeError:
                raise PublishError(f"the selected patch writes {path}, which is not UTF-8 "
                                   "text; the app only commits text files") from None
        return files
    finally:
        with contextlib.suppress(PublishError):
            _git(clone, "worktree", "remove", "--force", str(tree))
        shutil.rmtree(work, ignore_errors=True)
        with contextlib.suppress(PublishError):
            _git(clone, "worktree", "prune")


def publish_pull(client: RepoClient, *, number: int, base_ref: str, base_sha: str,
                 files: dict[str, str | None], title: str, body: str,
                 message: str) -> tuple[int, str]:
    """A commit on `base_sha`, branch quorum/issue-N at it, a draft pull request into
    `base_ref`: (number, url). The branch is Quorum's own: a rerun moves it."""
    sha = client.commit_files(parent_sha=base_sha, files=files, message=message)
    branch = branch_for(number)
    try:
        client.set_branch(branch, sha, create=True)
    except GitHubError as exc:
        if exc.status != 422:  # 422: it exists (an earlier run for this issue)
            raise
        client.set_branch(branch, sha, create=False, force=True)
    return client.open_draft_pull(head=branch, base=base_ref, title=title, body=body)


def publish_fix(client: RepoClient, pull: PullInfo, *, base_sha: str,
                files: dict[str, str | None], message: str) -> str:
    """A new commit on the pull request's own branch (a fast-forward: never forced)."""
    sha = client.commit_files(parent_sha=base_sha, files=files, message=message)
    client.set_branch(pull.head_ref, sha, create=False, force=False)
    return sha


def _git(cwd: Path, *args: str) -> str:
    env = {**os.environ, **_ENV}
    proc = subprocess.run(["git", "-c", "safe.directory=*", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)
    if proc.returncode != 0:
        raise PublishError(proc.stderr.strip()[-500:] or f"git {args[0]} failed")
    return proc.stdout
