"""Grading tests for the past-midnight issue. Not part of the repository agents see."""

import pytest

from timesheet import parse_entries
from timesheet.cli import main
from timesheet.clock import span_minutes


def test_span_past_midnight():
    assert span_minutes("22:30-01:15") == 165
    assert span_minutes("23:59-00:00") == 1
    assert span_minutes("18:00-06:00") == 720


def test_entry_past_midnight():
    [entry] = parse_entries("2024-05-06 22:30-01:15 deploy")
    assert entry.minutes == 165


def test_cli_report_with_a_night_shift(tmp_path, capsys):
    sheet = tmp_path / "nights.txt"
    sheet.write_text("2024-05-06 22:30-01:15 deploy\n2024-05-07 09:00-10:00 deploy\n")
    assert main([str(sheet)]) == 0
    assert capsys.readouterr().out == "deploy   3:45\ntotal    3:45\n"


@pytest.mark.parametrize(
    ("span", "minutes"),
    [("09:00-10:30", 90), ("00:00-23:59", 1439), ("12:15-12:20", 5), ("00:00-00:30", 30)],
)
def test_same_day_spans_are_unchanged(span, minutes):
    assert span_minutes(span) == minutes
