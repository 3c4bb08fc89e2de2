"""The command line: python -m timesheet FILE."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from timesheet.entries import parse_entries
from timesheet.errors import TimesheetError
from timesheet.report import render


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="timesheet", description="Sum a timesheet per task.")
    parser.add_argument("file", type=Path)
    args = parser.parse_args(argv)
    try:
        entries = parse_entries(args.file.read_text())
    except (OSError, TimesheetError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(render(entries))
    return 0
