"""The shared data CI always lays beside the clone (`../shared`), found from the repository
root rather than an absolute path. Missing data is a failure, not a skip: a test that needs it
must never pass silently where it is absent."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
SHARED_DIR = REPO_ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        pytest.fail(f"shared data {path} is missing: CI lays the shared folder at ../shared "
                    "beside the clone; put it there to run this test")
    return path
