import pytest

from timesheet.clock import parse_time, span_minutes
from timesheet.errors import TimesheetError


def test_parse_time():
    assert parse_time("00:00") == 0
    assert parse_time("09:30") == 570
    assert parse_time("23:59") == 1439


@pytest.mark.parametrize("text", ["9", "9:5", "24:00", "12:60", "ab:cd", ""])
def test_parse_time_rejects(text):
    with pytest.raises(TimesheetError):
        parse_time(text)


def test_span_minutes():
    assert span_minutes("09:00-10:30") == 90
    assert span_minutes("00:00-23:59") == 1439
    assert span_minutes("12:15-12:20") == 5
    assert span_minutes("22:30-01:15") == 165  # past midnight


def test_span_needs_a_dash():
    with pytest.raises(TimesheetError, match="not a span"):
        span_minutes("09:00")
