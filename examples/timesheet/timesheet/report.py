"""Totals per task, and the report printed by the command line."""

from __future__ import annotations

from collections import Counter

from timesheet.entries import Entry


def format_minutes(minutes: int) -> str:
    """H:MM, e.g. 135 -> "2:15"."""
    hours, rest = divmod(minutes, 60)
    return f"{hours}:{rest}"


def summarize(entries: list[Entry]) -> dict[str, int]:
    """Minutes per task, in task order."""
    totals: Counter[str] = Counter()
    for entry in entries:
        totals[entry.task] += entry.minutes
    return dict(sorted(totals.items()))


def render(entries: list[Entry]) -> str:
    totals = summarize(entries)
    width = max([len(task) for task in totals] + [len("total")])
    lines = [f"{task:<{width}}   {format_minutes(m)}" for task, m in totals.items()]
    lines.append(f"{'total':<{width}}   {format_minutes(sum(totals.values()))}")
    return "\n".join(lines)
