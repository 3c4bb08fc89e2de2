"""A patch as an agent's sandbox would give it: `change` runs in a scratch clone of `repo`,
everything is staged and `git diff --cached` is the patch. The repository is untouched."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path


def staged_diff(repo: Path, change: Callable[[Path], None]) -> str:
    scratch = repo.parent / "scratch"
    subprocess.run(["git", "clone", "-q", str(repo), str(scratch)], check=True)
    try:
        change(scratch)
        subprocess.run(["git", "-C", str(scratch), "add", "-A"], check=True)
        return subprocess.run(["git", "-C", str(scratch), "diff", "--cached"], check=True,
                              capture_output=True, text=True).stdout  # fmt: skip
    finally:
        shutil.rmtree(scratch)
