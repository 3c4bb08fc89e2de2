"""Git operations every backend shares, written against the `exec`/`write_file` primitives
so Docker and local sandboxes behave the same."""

from __future__ import annotations

import shlex
import uuid
from typing import TYPE_CHECKING

from sandbox.errors import PatchApplyError, SandboxError

if TYPE_CHECKING:
    from sandbox.protocol import Sandbox

# safe.directory: the workspace may be owned by another uid than the one running git.
GIT = "git -c safe.directory='*' -c core.fileMode=false"

# Record the base commit; a plain directory becomes a repository with one commit.
BASE_COMMIT_SCRIPT = f"""
if ! {GIT} rev-parse --verify -q HEAD >/dev/null 2>&1; then
  {GIT} init -q . && {GIT} add -A &&
  {GIT} -c user.name=quorum -c user.email=quorum@localhost commit -q --allow-empty -m base
fi
{GIT} rev-parse HEAD
"""

GIT_TIMEOUT_S = 120
# What running code leaves behind is never part of a change, .gitignore or not.
_NOT_WORK = " ".join(
    f"':(exclude,glob){pattern}'"
    for pattern in ("**/__pycache__/**", "**/*.py[co]", "**/.pytest_cache/**")
)


def read_base_commit(sandbox: Sandbox) -> str:
    result = sandbox.exec(BASE_COMMIT_SCRIPT, timeout=GIT_TIMEOUT_S)
    sha = result.stdout.strip().splitlines()[-1] if result.stdout.strip() else ""
    if not result.ok or len(sha) != 40:
        raise SandboxError(f"cannot record the base commit of the workspace: {result.output}")
    return sha


def diff_against(sandbox: Sandbox, base_commit: str) -> str:
    # A throwaway index: new files are included without touching the sandbox's own index.
    script = f"""
set -e
idx=$(mktemp)
trap 'rm -f "$idx"' EXIT
# -p keeps the index's mtime: git then still re-reads files changed in the same second as
# the index was written ("racily clean"); a fresh mtime would let a same-size edit hide.
cp -p "$({GIT} rev-parse --git-dir)/index" "$idx" 2>/dev/null || true
export GIT_INDEX_FILE="$idx"
{GIT} add -A -- . {_NOT_WORK}
{GIT} diff --cached --binary --no-color --no-ext-diff {shlex.quote(base_commit)}
"""
    result = sandbox.exec(script, timeout=GIT_TIMEOUT_S)
    if not result.ok or result.truncated:
        raise SandboxError(f"git diff failed in the sandbox: {result.stderr or result.stdout}")
    return result.stdout


def fuzzy_patch_command(patch_file: str) -> str:
    """`patch` with fuzz, tried dry first so a half-applied patch never stays: the
    fallback when git apply refuses."""
    patch = f"patch --batch --forward --fuzz=3 -p1 --no-backup-if-mismatch -i {patch_file}"
    return f"{patch} --dry-run && {patch}"


def apply(sandbox: Sandbox, patch: str) -> None:
    """git apply, then `patch` with fuzz as a fallback; the error keeps both reasons."""
    if not patch.strip():
        raise PatchApplyError("the patch is empty")
    if not patch.endswith("\n"):
        patch += "\n"
    name = f".quorum-patch-{uuid.uuid4().hex}.diff"
    sandbox.write_file(name, patch)
    try:
        git = sandbox.exec(
            f"{GIT} apply --whitespace=nowarn --recount {name}", timeout=GIT_TIMEOUT_S
        )
        if git.ok:
            return
        fuzzy = sandbox.exec(fuzzy_patch_command(name), timeout=GIT_TIMEOUT_S)
        if fuzzy.ok:
            return
        raise PatchApplyError(
            "the patch does not apply:\n"
            f"git apply: {git.output.strip()}\npatch: {fuzzy.output.strip()}"
        )
    finally:
        sandbox.exec(f"rm -f {name}", timeout=GIT_TIMEOUT_S)
