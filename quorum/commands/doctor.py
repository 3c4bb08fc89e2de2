"""`quorum doctor`: one line per environment check, with a fix for each failure."""

from __future__ import annotations

import os
from pathlib import Path

import typer
from rich.console import Console
from rich.markup import escape

from quorum.doctor import Check, Probe, run_checks


def doctor() -> None:
    """Check the environment: Docker engine, base images, disk space, model access."""
    console = Console(highlight=False, soft_wrap=True)  # soft_wrap: one line per check
    probe = Probe(environ=dict(os.environ), cwd=Path.cwd())
    try:
        checks = run_checks(probe)
    finally:
        probe.close()
    for check in checks:
        console.print(_line(check))
    if any(c.required and not c.ok for c in checks):
        raise typer.Exit(1)


def _line(check: Check) -> str:
    if check.ok:
        return f"[green]✓[/] {escape(check.name)}: {escape(check.detail)}"
    mark = "[red]✗[/]" if check.required else "[yellow]![/]"
    fix = f" — fix: {escape(check.fix)}" if check.fix else ""
    return f"{mark} {escape(check.name)}: {escape(check.detail)}{fix}"
