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
from fnmatch import fnmatchcase
from pathlib import Path

from quorum.app.github_ops import GitHubError, PullInfo, RepoClient
from sandbox.errors import QuorumError

_FILE_MODES = {"000000", "100644", "100755"}  # none (added/deleted), a file, an executable
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
    """A rule protects the path it names and everything under it (`.github/workflows` and
    `.github/workflows/` alike); a rule with `*?[` is a glob. Both sides are compared
    normalised (no `./`, no doubled or trailing `/`) and case-folded: a rule must not be
    dodged by spelling (`./.github//Workflows/x.yml`)."""
    target = _normal(path)
    for rule in protected:
        pattern = _normal(rule)
        if not pattern:
            continue
        if target == pattern or target.startswith(pattern + "/"):
            return True
        if any(ch in pattern for ch in "*?[") and fnmatchcase(target, pattern):
            return True
    return False


def _normal(path: str) -> str:
    parts = [p for p in path.replace("\\", "/").split("/") if p not in ("", ".")]
    return "/".join(parts).casefold()


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
        changes = _staged(tree, base_sha)  # path -> (old mode, new mode, new blob, status)
        refused = sorted(p for p in changes if is_protected(p, protected))
        if refused:
            raise ProtectedPathError(refused, protected)
        links = sorted(p for p, (old, new, _, _) in changes.items()
                       if {old, new} - _FILE_MODES)
        if links:  # a symlink's "content" read from disk would be the file it points to
            raise PublishError(f"the selected patch makes or changes a symbolic link or "
                               f"submodule ({', '.join(links)}); the app only commits "
                               "regular files, so nothing was pushed",
                               hint="make that change by hand")
        files: dict[str, str | None] = {}
        for path, (_, _, blob, status) in changes.items():
            if status == "D":
                files[path] = None
                continue
            try:  # the staged blob, never the worktree file (which could be a link)
                files[path] = _git_bytes(tree, "cat-file", "blob", blob).decode("utf-8")
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


def _staged(tree: Path, base_sha: str) -> dict[str, tuple[str, str, str, str]]:
    """What the index changes against `base_sha`: path -> (old mode, new mode, new blob sha,
    status letter), from `git diff --raw -z` (`:OLD NEW OLDSHA NEWSHA S`, NUL, the path, NUL)."""
    listed = _git(tree, "diff", "--cached", "--raw", "--no-renames", "--no-abbrev", "-z",
                  base_sha)
    fields = listed.split("\0")
    out: dict[str, tuple[str, str, str, str]] = {}
    for meta, path in zip(fields[0::2], fields[1::2], strict=False):
        if not meta.startswith(":"):
            continue
        old, new, _old_sha, new_sha, status = meta[1:].split(" ")
        out[path] = (old, new, new_sha, status[:1])
    return out


def _git(cwd: Path, *args: str) -> str:
    return _git_bytes(cwd, *args).decode("utf-8", "surrogateescape")


def _git_bytes(cwd: Path, *args: str) -> bytes:
    env = {**os.environ, **_ENV}
    proc = subprocess.run(["git", "-c", "safe.directory=*", *args], cwd=cwd, env=env,
                          capture_output=True, timeout=300, check=False)
    if proc.returncode != 0:
        stderr = proc.stderr.decode("utf-8", "replace").strip()
        raise PublishError(stderr[-500:] or f"git {args[0]} failed")
    return proc.stdout
