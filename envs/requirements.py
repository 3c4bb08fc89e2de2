"""A repository's requirements.txt at its environment-setup commit, read from the local
clone instead of raw.githubusercontent.com, filtered exactly as swebench 4.1.0's
`get_requirements` does (one level of `-r` includes, no `-e .`, comments or `.[test`)."""

from __future__ import annotations

import posixpath
import re
from pathlib import Path

from envs.errors import TaskSourceError
from envs.gitcmd import GitFailed, git

# swebench's REPLACE_REQ_PACKAGES: packages yanked from PyPI and their replacement.
REPLACEMENTS = (("types-pkg_resources", "types-setuptools"),)


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
