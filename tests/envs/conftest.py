from __future__ import annotations

from pathlib import Path

import pytest

from envs.gitcmd import commit_all, git


def make_repo(path: Path, files: dict[str, str] | None = None) -> str:
    """A git repository at `path` with `files` committed; returns the commit sha."""
    path.mkdir(parents=True, exist_ok=True)
    for name, text in (files or {"README.md": "hello\n", "pkg/mod.py": "X = 1\n"}).items():
        (path / name).parent.mkdir(parents=True, exist_ok=True)
        (path / name).write_text(text)
    return commit_all(path, "init")


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    path = tmp_path / "My Project"
    make_repo(path)
    return path


@pytest.fixture
def bare_origin(tmp_path: Path) -> tuple[Path, str]:
    """A bare repository with one commit, standing in for a remote."""
    work = tmp_path / "origin-work"
    sha = make_repo(work, {"lib.py": "def f():\n    return 1\n"})
    bare = tmp_path / "origin.git"
    git("clone", "-q", "--bare", str(work), str(bare))
    return bare, sha
