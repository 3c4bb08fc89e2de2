"""Sum the hours of a plain-text timesheet per task."""

from timesheet.entries import Entry, parse_entries
from timesheet.report import format_minutes, summarize

__all__ = ["Entry", "format_minutes", "parse_entries", "summarize"]
