"""Confining file access to a sandbox's workspace."""

from __future__ import annotations

import os
import posixpath
from pathlib import Path

from sandbox.errors import PathEscape


def join_inside(workspace: str, path: str) -> str:
    """`path` (relative to the workspace, or absolute inside it) as a normalised absolute
    POSIX path; refuses lexical escapes such as `../` or absolute paths elsewhere.
    Symlinks are checked by the backend, which can see the filesystem."""
    if not path or "\x00" in path:
        raise PathEscape(f"invalid path {path!r}")
    joined = posixpath.normpath(posixpath.join(workspace, path))
    if not is_inside(workspace, joined):
        raise PathEscape(f"{path!r} is outside the workspace {workspace}")
    return joined


def is_inside(workspace: str, path: str) -> bool:
    workspace = posixpath.normpath(workspace)
    return path == workspace or path.startswith(workspace.rstrip("/") + "/")


def resolve_local(workspace: Path, path: str) -> Path:
    """A host path inside `workspace`, following symlinks; refuses anything that escapes."""
    root = workspace.resolve()
    lexical = join_inside(str(root), path)
    real = os.path.realpath(lexical)
    if not is_inside(str(root), real):
        raise PathEscape(f"{path!r} resolves to {real}, outside the workspace {root}")
    return Path(real)
