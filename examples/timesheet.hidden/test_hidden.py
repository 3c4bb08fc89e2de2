"""Grading tests for the minutes-padding issue. Not part of the repository agents see."""

import pytest

from timesheet import format_minutes, parse_entries
from timesheet.cli import main
from timesheet.report import render


@pytest.mark.parametrize(
    ("minutes", "text"),
    [(65, "1:05"), (7, "0:07"), (123, "2:03"), (0, "0:00"), (600, "10:00"), (6001, "100:01")],
)
def test_minutes_are_two_digits(minutes, text):
    assert format_minutes(minutes) == text


@pytest.mark.parametrize(("minutes", "text"), [(135, "2:15"), (59, "0:59"), (630, "10:30")])
def test_two_digit_minutes_are_unchanged(minutes, text):
    assert format_minutes(minutes) == text


def test_render_pads_task_lines_and_total():
    entries = parse_entries("2024-05-06 09:00-10:05 coding\n2024-05-06 10:30-10:37 call\n")
    assert render(entries) == "call     0:07\ncoding   1:05\ntotal    1:12"


def test_cli_report(tmp_path, capsys):
    sheet = tmp_path / "week.txt"
    sheet.write_text("2024-05-06 09:00-10:05 coding\n2024-05-06 10:30-13:00 review\n")
    assert main([str(sheet)]) == 0
    assert capsys.readouterr().out == "coding   1:05\nreview   2:30\ntotal    3:35\n"
