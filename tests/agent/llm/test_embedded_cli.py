"""`quorum model status` on an empty and a filled cache (QUORUM_CACHE_DIR or --cache-dir)."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from agent.llm.embedded_fetch import QWEN25_CODER_1_5B, model_path
from quorum.cli import app


def test_status_of_an_empty_cache_says_how_to_fetch(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["model", "status"], env={"QUORUM_CACHE_DIR": str(tmp_path)})
    assert result.exit_code == 1
    assert str(model_path(tmp_path)) in result.output
    assert "not fetched" in result.output and "quorum model fetch" in result.output


def test_status_reports_a_corrupt_file(tmp_path: Path) -> None:
    path = model_path(tmp_path)
    path.parent.mkdir(parents=True)
    path.write_bytes(b"not a model")
    result = CliRunner().invoke(app, ["model", "status", "--cache-dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"size 11 bytes, expected {QWEN25_CODER_1_5B.size:,}" in result.output


@pytest.mark.embedded
@pytest.mark.parametrize("deep", [False, True])
def test_status_of_the_real_cache(deep: bool, embedded_cache: Path) -> None:
    """A verified copy reads as verified, through the option and the variable alike."""
    args = ["model", "status", *(["--deep"] if deep else [])]
    result = CliRunner().invoke(app, [*args, "--cache-dir", str(embedded_cache)])
    assert result.exit_code == 0, result.output
    assert "verified: yes" in result.output
    result = CliRunner().invoke(app, args, env={"QUORUM_CACHE_DIR": str(embedded_cache)})
    assert result.exit_code == 0, result.output
    assert "verified: yes" in result.output
