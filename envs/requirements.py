"""A repository's requirements.txt at its environment-setup commit, read from the local
clone instead of raw.githubusercontent.com, filtered exactly as swebench 4.1.0's
`get_requirements` does (one level of `-r` includes, no `-e .`, comments or `.[test`)."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from packaging.version import Version

from envs.errors import TaskSourceError
from envs.gitcmd import GitFailed, git

# swebench's REPLACE_REQ_PACKAGES: packages yanked from PyPI and their replacement.
REPLACEMENTS = (("types-pkg_resources", "types-setuptools"),)

# Era pins: (repo, first version not pinned, requirements), installed with the spec's own
# pip packages. Built today, an unbounded requirement resolves to today's release, which
# may have dropped what the instance's code imports. Every sphinx release imports
# `docutils.utils.roman`, removed in docutils 0.22 (July 2025); sphinx caps docutils itself
# from 5.0 on, while older base commits declare only `docutils>=0.12` or `>=0.14`. The cap
# is the newest docutils that still has it: what such an environment resolved until then.
ERA_PINS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("sphinx-doc/sphinx", "5.0", ("docutils<0.22",)),
)


def era_pins(repo: str, version: str) -> list[str]:
    """The pins a spec of `repo` at `version` gets installed with (ERA_PINS)."""
    return [pin for name, below, pins in ERA_PINS
            if name == repo and Version(version) < Version(below) for pin in pins]


def _excluded(line: str) -> bool:
    return any(line.strip().startswith(x) for x in ("-e .", "#", ".[test"))


def _show(repo: Path, commit: str, path: str) -> str | None:
    try:
        return git("show", f"{commit}:{path}", cwd=repo)
    except GitFailed:
        return None


def requirements_at(repo: Path, commit: str, paths: list[str]) -> str:
    for path in paths:
        text = _show(repo, commit, path)
        if text is not None:
            break
    else:
        raise TaskSourceError(f"no requirements file ({', '.join(paths)}) at {commit[:12]}")
    folder = posixpath.dirname(path)
    original, extra = [], []
    for line in text.split("\n"):
        if line.strip().startswith("-r"):
            included = _show(repo, commit, posixpath.join(folder, line.strip()[2:].strip()))
            extra += [x for x in (included or "").split("\n") if not _excluded(x)]
        elif not _excluded(line):
            original.append(line)
    extra.append("\n".join(original))
    result = "\n".join(extra)
    for old, new in REPLACEMENTS:
        result = re.sub(rf"^{re.escape(old)}([<>=!~]=?.*|$)", new, result, flags=re.M)
    return result
