"""Splitting unified diffs by file, e.g. to separate a reproduction test from a fix."""

from __future__ import annotations

import re

_HEADER = re.compile(r"^diff --git a/(?P<a>.+?) b/(?P<b>.+?)$", re.M)


def split_by_file(patch: str) -> dict[str, str]:
    """Each file's section of a git-format diff, keyed by its path after the change."""
    starts = list(_HEADER.finditer(patch))
    sections = {}
    for i, header in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(patch)
        sections[header.group("b")] = patch[header.start() : end]
    return sections


def without_files(patch: str, paths: set[str]) -> str:
    return "".join(s for path, s in split_by_file(patch).items() if path not in paths)


def changed_files(patch: str) -> list[str]:
    return list(split_by_file(patch))
