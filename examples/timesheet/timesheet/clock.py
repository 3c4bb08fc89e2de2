"""Times of day ("09:30") and spans between two of them ("09:30-11:00")."""

from __future__ import annotations

from timesheet.errors import TimesheetError

MINUTES_PER_DAY = 24 * 60


def parse_time(text: str) -> int:
    """Minutes since midnight of a time of day written HH:MM."""
    hours, sep, minutes = text.strip().partition(":")
    if not sep or not hours.isdigit() or not minutes.isdigit() or len(minutes) != 2:
        raise TimesheetError(f"not a time of day: {text!r} (expected HH:MM)")
    value = int(hours) * 60 + int(minutes)
    if int(hours) > 23 or int(minutes) > 59:
        raise TimesheetError(f"not a time of day: {text!r}")
    return value


def span_minutes(text: str) -> int:
    """The length in minutes of a span "HH:MM-HH:MM"; one that ends before it starts
    goes past midnight."""
    start, sep, end = text.partition("-")
    if not sep:
        raise TimesheetError(f"not a span: {text!r} (expected HH:MM-HH:MM)")
    return (parse_time(end) - parse_time(start)) % MINUTES_PER_DAY
