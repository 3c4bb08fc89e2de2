"""Environment builds lock across processes: Ray workers and parallel CLI runs on one
machine share its Docker engine, so one of them builds an image while the others wait."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from envs.environment import NODE_LOCKS, EnvironmentBuilder

PROBE = """
import sys
from filelock import FileLock, Timeout
try:
    with FileLock(sys.argv[1], timeout=0.3):
        print("acquired")
except Timeout:
    print("waited")
"""


def _other_process_gets(lock_file: Path) -> str:
    done = subprocess.run([sys.executable, "-c", PROBE, str(lock_file)], capture_output=True,
                          text=True, timeout=60, check=True)  # fmt: skip
    return done.stdout.strip()


def test_an_image_build_holds_a_machine_wide_lock(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(None, cache_dir=tmp_path / "cache")
    key = f"env-test-{tmp_path.name}"
    seen = builder._locked(key, lambda: _other_process_gets(NODE_LOCKS / f"{key}.lock"))
    assert seen == "waited"
    assert _other_process_gets(NODE_LOCKS / f"{key}.lock") == "acquired"  # released after


def test_cache_files_lock_inside_the_cache(tmp_path: Path) -> None:
    builder = EnvironmentBuilder(None, cache_dir=tmp_path / "cache")
    with builder._lock_for("empty-repo"):
        assert _other_process_gets(tmp_path / "cache" / ".locks" / "empty-repo.lock") == "waited"
