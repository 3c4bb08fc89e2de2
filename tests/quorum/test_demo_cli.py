"""`quorum demo`'s choice of example: listed in --help, and a name that is not bundled
stops before any model or sandbox starts, with the names that are."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from envs.examples import list_examples
from quorum.cli import app


def test_help_lists_the_bundled_examples() -> None:
    result = CliRunner().invoke(app, ["demo", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in list_examples():
        assert name in result.output


def test_an_unknown_example_is_refused_with_the_choices(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["demo", "--example", "nope", "--out", str(tmp_path / "d"),
                                      "--history", str(tmp_path / "h.jsonl")])
    assert result.exit_code == 1
    assert "no bundled example named 'nope'" in result.output
    assert ", ".join(list_examples()) in result.output
    assert not (tmp_path / "h.jsonl").exists()  # nothing was graded or recorded
