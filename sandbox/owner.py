"""Who owns a container: this process's pid, host and start time (pids get reused)."""

from __future__ import annotations

import os
import socket


def process_start_time(pid: int) -> str | None:
    """The kernel's start time of `pid` in clock ticks since boot, or None if gone."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as stat:
            fields = stat.read().rsplit(")", 1)[1].split()
        return fields[19]  # field 22 of stat; the first two were split off above
    except (OSError, IndexError):
        return None


def current_owner() -> dict[str, str]:
    pid = os.getpid()
    return {"pid": str(pid), "host": socket.gethostname(), "started": process_start_time(pid) or ""}


def owner_alive(pid: str, host: str, started: str) -> bool:
    """True unless we can tell the owner is gone. Owners on other hosts are assumed alive."""
    if host != socket.gethostname():
        return True
    try:
        now_started = process_start_time(int(pid))
    except ValueError:
        return False
    if now_started is None:
        return False
    return not started or now_started == started
