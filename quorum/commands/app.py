"""`quorum app --host H --port P [--log-json]`: the GitHub App's webhook server (quorum/app/)
under uvicorn, with the real job handler. Settings come from the environment, read once by
AppSettings.from_env; a missing or unusable one is one `error:` line naming the variable."""

from __future__ import annotations

import logging
import os
from typing import Annotated

import typer

from quorum.app.settings import VARIABLES, AppSettings
from quorum.logs import configure


def _settings_help() -> str:
    lines = [f"{name}: {what} ({'required' if default == 'required' else 'default: ' + default})."
             for name, (what, default) in VARIABLES.items()]  # fmt: skip
    return "\n\n".join(lines)


HELP = (
    "Run the GitHub App: POST /webhooks (signed deliveries; answers 202 and queues a job), "
    "GET /healthz (the process serves), GET /readyz (the job database is writable and the "
    "Docker engine answers). Jobs survive restarts: one cut off by a crash is resumed once."
    "\n\nSettings, from the environment:\n\n" + _settings_help()
)


def app_command(
    host: Annotated[str, typer.Option(help="Address to listen on (0.0.0.0: every interface).")]
    = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="Port to listen on.")] = 8000,
    log_json: Annotated[
        bool, typer.Option("--log-json", help="Log one JSON object a line (for a collector).")
    ] = False,
) -> None:
    settings = AppSettings.from_env(os.environ)  # SettingsError: one `error:` line (cli.py)
    _configure_logging(log_json)
    # Imported here: the server and the job flow load only when the App runs.
    from quorum.app.handler import SolveHandler
    from quorum.app.server import create_app, serve

    app = create_app(settings, SolveHandler.from_settings(settings))
    serve(app, host, port)


app_command.__doc__ = HELP


def _configure_logging(json_lines: bool) -> None:
    configure(json_lines=json_lines)  # secrets redacted in every line, JSON or plain
    logging.getLogger("uvicorn.error").setLevel(logging.INFO)  # "Uvicorn running on ..."
