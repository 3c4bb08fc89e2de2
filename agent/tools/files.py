"""File access for the tools, through the sandbox only: the same code serves a local
directory and a container. Paths are relative to the workspace (absolute ones inside it
are accepted); whatever points outside it is a `ToolError`, not a crash."""

from __future__ import annotations

import posixpath
import shlex
from dataclasses import dataclass
from typing import Literal

from agent.tools.base import ToolError
from agent.tools.text import decode
from sandbox.errors import PathEscape, SandboxError
from sandbox.paths import join_inside
from sandbox.protocol import Sandbox

STAT_TIMEOUT_S = 30

Kind = Literal["file", "dir", "other", "missing"]


@dataclass(frozen=True)
class PathInfo:
    kind: Kind
    absolute: str  # inside the sandbox
    shown: str  # relative to the workspace, as the model should write it
    size: int = 0  # bytes, for a file


# One round trip: confinement (symlinks followed) and kind. `realpath -m` accepts paths
# that do not exist yet, which `create` needs.
_STAT = """w=$(realpath -m -- {ws}); r=$(realpath -m -- {p})
case "$r" in "$w"|"$w"/*) ;; *) echo escape; exit 0;; esac
if [ -d {p} ]; then echo dir; elif [ -f {p} ]; then echo file $(wc -c < {p})
elif [ -e {p} ] || [ -L {p} ]; then echo other; else echo missing; fi"""


def inspect(sandbox: Sandbox, path: str) -> PathInfo:
    if not path.strip():
        raise ToolError("the path is empty")
    try:
        absolute = join_inside(sandbox.workspace, path.strip())
    except PathEscape as exc:
        raise ToolError(f"{path} is outside the repository ({sandbox.workspace}); "
                        "use a path relative to it") from exc
    cmd = _STAT.format(ws=shlex.quote(sandbox.workspace), p=shlex.quote(absolute))
    result = sandbox.exec(cmd, timeout=STAT_TIMEOUT_S)
    kind, _, size = result.stdout.strip().partition(" ")
    if kind == "escape":
        raise ToolError(f"{path} resolves (through a symlink) to outside the repository")
    if kind not in ("file", "dir", "other", "missing"):
        raise SandboxError(f"cannot inspect {path}: {result.output.strip()}")
    shown = posixpath.relpath(absolute, sandbox.workspace)
    return PathInfo(kind=kind, absolute=absolute, shown=shown,  # type: ignore[arg-type]
                    size=int(size) if size.isdigit() else 0)


def require_file(sandbox: Sandbox, path: str, max_bytes: int | None = None) -> PathInfo:
    """A regular file the tools may read whole (`max_bytes` bounds what crosses over)."""
    info = inspect(sandbox, path)
    if info.kind == "missing":
        raise ToolError(f"{info.shown} does not exist{_hint_parent(sandbox, info)}")
    if info.kind == "dir":
        raise ToolError(f"{info.shown} is a directory, not a file; view it to list its entries")
    if info.kind == "other":
        raise ToolError(f"{info.shown} is not a regular file")
    if max_bytes is not None and info.size > max_bytes:
        raise ToolError(f"{info.shown} is too large for this tool ({info.size} bytes); use bash "
                        f"(`sed -n 100,200p {info.shown}`, `grep -n`) to work with it")
    return info


def read_bytes(sandbox: Sandbox, info: PathInfo) -> bytes:
    try:
        return sandbox.read_file(info.absolute)
    except SandboxError as exc:
        raise _for_model(exc) from exc


def read_text(sandbox: Sandbox, info: PathInfo) -> str:
    return decode(read_bytes(sandbox, info), info.shown)


def write_text(sandbox: Sandbox, info: PathInfo, text: str) -> None:
    try:
        sandbox.write_file(info.absolute, text.encode("utf-8"))
    except SandboxError as exc:
        raise _for_model(exc) from exc


def _for_model(exc: SandboxError) -> Exception:
    """Plain read/write refusals (permissions, escapes) are the model's to fix; the
    subclasses (closed sandbox, engine gone) are the machinery's and pass through."""
    if type(exc) in (SandboxError, PathEscape):
        return ToolError(str(exc))
    return exc


def _hint_parent(sandbox: Sandbox, info: PathInfo) -> str:
    """Name the nearest existing directory, which is usually what the model needs."""
    parent = posixpath.dirname(info.shown)
    while parent and inspect(sandbox, parent).kind != "dir":
        parent = posixpath.dirname(parent)
    where = parent or "."
    cmd = f"ls -A -- {shlex.quote(where)} | head -n 30"
    listing = sandbox.exec(cmd, timeout=STAT_TIMEOUT_S).stdout.split()
    return f"; {where}/ holds: {', '.join(listing)}" if listing else ""
