"""The importable name of a repository's Python file: `src/pkg/sub/mod.py` -> `pkg.sub.mod`
(a `src/` or `lib/` layout's top folder is not a package), `pkg/__init__.py` -> `pkg`."""

from __future__ import annotations

from pathlib import PurePosixPath


def module_of(path: str) -> str | None:
    """None for a file that is not Python or names no module."""
    if not path.endswith(".py"):
        return None
    parts = list(PurePosixPath(path).with_suffix("").parts)
    if parts and parts[0] in ("src", "lib"):
        parts = parts[1:]
    if parts and parts[-1] == "__init__":
        parts = parts[:-1]
    return ".".join(parts) or None
