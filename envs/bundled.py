"""Projects shipped as plain files under examples/ (a nested .git cannot be committed) and
turned into git repositories on demand, with their grading records kept beside them.

A bundled project is a folder `NAME/` (its `ISSUE.md` is the issue, not part of the
repository) and a folder `NAME.hidden/` that agents never see: `test_hidden.py` (added to the
repository as tests/test_hidden.py by the test patch) and `gold.patch` (the reference fix).
`python -m envs.bundled_records` rebuilds the instance records from those files."""

from __future__ import annotations

import shutil
from pathlib import Path

from envs.errors import TaskSourceError
from envs.gitcmd import GitFailed, commit_all, git

EXAMPLES_DIR = Path(__file__).resolve().parent.parent / "examples"
HIDDEN_TEST_PATH = "tests/test_hidden.py"
BASE_MESSAGE = "base"
_IGNORE = shutil.ignore_patterns("ISSUE.md", "__pycache__", "*.pyc", ".pytest_cache")


def hidden_dir(project: Path) -> Path:
    return project.with_name(project.name + ".hidden")


def materialize_project(project: Path, dest: Path | str, *, expect: str | None = None) -> str:
    """Copy `project` (without ISSUE.md) to `dest` as a one-commit git repository; return its
    sha. A `dest` already holding that commit (`expect`) is reused as it is."""
    dest = Path(dest)
    if dest.exists() and any(dest.iterdir()):
        if expect and _head(dest) == expect:
            return expect
        raise TaskSourceError(f"cannot materialise {project.name} into {dest}: not empty",
                              hint="choose a new or empty directory")
    shutil.copytree(project, dest, ignore=_IGNORE, dirs_exist_ok=True)
    return commit_all(dest, BASE_MESSAGE)


def _head(repo: Path) -> str | None:
    try:
        return git("rev-parse", "HEAD", cwd=repo).strip()
    except GitFailed:
        return None


def new_file_diff(path: str, content: str) -> str:
    """The git diff that creates `path` with `content` (text ending in a newline)."""
    lines = content.splitlines(keepends=True)
    body = "".join("+" + line for line in lines)
    return (f"diff --git a/{path} b/{path}\nnew file mode 100644\n--- /dev/null\n"
            f"+++ b/{path}\n@@ -0,0 +1,{len(lines)} @@\n{body}")


def bundled_projects(folder: Path) -> list[Path]:
    """The projects in `folder`: subfolders that have a NAME.hidden beside them."""
    return sorted(p for p in folder.iterdir() if p.is_dir() and hidden_dir(p).is_dir())
