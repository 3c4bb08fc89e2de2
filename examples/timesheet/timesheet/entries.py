"""The lines of a timesheet: "2024-05-06 09:00-10:30 review"."""

from __future__ import annotations

from dataclasses import dataclass

from timesheet.clock import span_minutes
from timesheet.errors import TimesheetError


@dataclass(frozen=True)
class Entry:
    day: str
    minutes: int
    task: str


def parse_entry(line: str) -> Entry:
    parts = line.split(maxsplit=2)
    if len(parts) != 3:
        raise TimesheetError(f"expected 'DATE HH:MM-HH:MM TASK', got {line!r}")
    day, span, task = parts
    return Entry(day=day, minutes=span_minutes(span), task=task.strip())


def parse_entries(text: str) -> list[Entry]:
    """Every entry of the text; blank lines and # comments are skipped."""
    entries = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        try:
            entries.append(parse_entry(line))
        except TimesheetError as exc:
            raise TimesheetError(f"line {number}: {exc}") from None
    return entries
