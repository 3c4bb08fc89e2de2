"""From the selected patch's text to the files of one commit, outside any sandbox."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from quorum.app.publish import (
    ProtectedPathError,
    PublishError,
    changed_files,
    is_protected,
)
from tests.helpers.staged_diff import staged_diff
from tests.sandbox.conftest import make_repo


def _diff(repo: Path, edit: dict[str, str | None]) -> str:
    """The patch of `edit` (path -> new text, None to delete)."""

    def write(scratch: Path) -> None:
        for path, text in edit.items():
            target = scratch / path
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)

    return staged_diff(repo, write)


def _head(repo: Path) -> str:
    return subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def test_the_files_of_the_patch_are_collected_and_the_clone_is_untouched(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    base = _head(repo)
    patch = _diff(repo, {"pkg/calc.py": "def add(a, b):\n    return a + b\n",
                         "docs/new.md": "new\n", "README.md": None})
    files = changed_files(repo, base, patch, [".github/workflows/"])
    assert files == {"pkg/calc.py": "def add(a, b):\n    return a + b\n",
                     "docs/new.md": "new\n", "README.md": None}
    assert _head(repo) == base
    assert (repo / "README.md").read_text() == "calc\n"  # the clone's own tree is not used
    listed = subprocess.run(["git", "-C", str(repo), "worktree", "list"], check=True,
                            capture_output=True, text=True).stdout.splitlines()
    assert len(listed) == 1  # the temporary worktree is gone


def test_a_patch_touching_a_protected_path_is_refused(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    patch = _diff(repo, {".github/workflows/ci.yml": "on: push\n", "pkg/calc.py": "x = 1\n"})
    with pytest.raises(ProtectedPathError) as caught:
        changed_files(repo, _head(repo), patch, [".github/workflows/", "secrets/"])
    assert ".github/workflows/ci.yml" in str(caught.value)
    assert "nothing was pushed" in str(caught.value)


def test_a_patch_that_does_not_apply_says_so(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    patch = _diff(repo, {"pkg/calc.py": "changed\n"}).replace("return a - b", "return a * b")
    with pytest.raises(PublishError, match="does not apply"):
        changed_files(repo, _head(repo), patch, [])
    with pytest.raises(PublishError, match="empty patch"):
        changed_files(repo, _head(repo), "", [])


def test_protected_rules_are_folders_paths_or_globs() -> None:
    rules = [".github/workflows/", "setup.cfg", "deploy/*.sh"]
    assert is_protected(".github/workflows/a.yml", rules)
    assert is_protected("setup.cfg", rules) and is_protected("deploy/go.sh", rules)
    assert not is_protected(".github/workflows-old/a.yml", rules)
    assert not is_protected("pkg/setup.cfg", rules)
