"""`quorum images` commands."""
from __future__ import annotations

import typer

app = typer.Typer(help="images commands", no_args_is_help=True)
