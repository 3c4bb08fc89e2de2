from __future__ import annotations

import pytest
from typer.testing import CliRunner

from quorum.cli import app

pytestmark = pytest.mark.docker


def test_smoke_exercises_the_whole_runtime() -> None:
    result = CliRunner().invoke(app, ["sandbox", "smoke"])
    assert result.exit_code == 0, result.output
    for step in ("hard timeout", "diff against the base commit", "apply the patch elsewhere"):
        assert step in result.output
    assert "sandbox smoke check passed" in result.output


def test_gc_reports_what_it_removed() -> None:
    result = CliRunner().invoke(app, ["sandbox", "gc"])
    assert result.exit_code == 0, result.output
    assert "leftover sandbox container(s)" in result.output
