import pytest

from timesheet.entries import Entry, parse_entries
from timesheet.errors import TimesheetError


def test_parse_entries_skips_blanks_and_comments():
    text = "# week 19\n2024-05-06 09:00-10:30 review\n\n2024-05-06 10:30-12:15 code review\n"
    assert parse_entries(text) == [
        Entry(day="2024-05-06", minutes=90, task="review"),
        Entry(day="2024-05-06", minutes=105, task="code review"),
    ]


def test_errors_name_the_line():
    with pytest.raises(TimesheetError, match="line 2"):
        parse_entries("2024-05-06 09:00-10:30 review\n2024-05-06 09:00 review\n")
