"""`quorum images`, run as a child process the way setup.sh and users run it."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from sandbox import images


def quorum(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "quorum.cli", "images", *args],
        capture_output=True, text=True, timeout=600, env={**os.environ, **env},
    )  # fmt: skip


def test_closed_engine_fails_with_a_hint(tmp_path) -> None:
    proc = quorum("build-base", DOCKER_HOST=f"unix://{tmp_path}/closed.sock")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: ") and "hint:" in proc.stderr  # the one format


@pytest.mark.docker
def test_build_base_leaves_present_images_alone_and_list_marks_them_current() -> None:
    first = quorum("build-base")  # builds what is missing (nothing, after make setup)
    assert first.returncode == 0, first.stdout + first.stderr
    again = quorum("build-base", "--suite", "all")
    assert again.returncode == 0
    for suite in images.SUITES:
        assert f"✓ {images.base_image_tag(suite)} already present" in again.stdout
    assert "building" not in again.stdout
    listed = quorum("list")
    for suite in images.SUITES:
        line = next(x for x in listed.stdout.splitlines() if images.base_image_tag(suite) in x)
        assert line.endswith("current") and suite in line


def test_prune_refuses_a_bad_age() -> None:
    proc = quorum("prune", "--older-than", "soon")
    assert proc.returncode == 1
    assert proc.stderr.startswith("error: --older-than: not an age: 'soon'"), proc.stderr


@pytest.mark.docker
def test_prune_of_nothing_old_enough_removes_nothing() -> None:
    proc = quorum("prune", "--older-than", "100000d", "--keep-environments")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert proc.stdout.strip() == "removed 0 image(s)"
