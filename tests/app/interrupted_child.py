"""One job of the real SolveHandler in a process of its own, so a test can kill it mid-run
with SIGKILL as a crash of the app would (test_handler_resume.py).

    python -m tests.app.interrupted_child SPEC.json

SPEC holds the settings (secrets as files or values), the scripted models' URL and the job."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

from pydantic import SecretStr

from quorum.app.handler import SolveHandler
from quorum.app.settings import AppSettings
from quorum.app.store import Job
from tests.app.handler_kit import scripted_endpoints


@dataclass
class _Models:  # what scripted_endpoints reads of the stand-in: where it serves
    base_url: str


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    fields = spec["settings"]
    settings = AppSettings(**fields,
                           private_key_pem=SecretStr(Path(fields["private_key_path"]).read_text()),
                           webhook_secret=SecretStr(spec["webhook_secret"]))  # fmt: skip
    handler = SolveHandler.from_settings(
        settings, {}, endpoints=scripted_endpoints(_Models(spec["models_url"])))  # type: ignore[arg-type]
    asyncio.run(handler(Job.model_validate(spec["job"]), resumed=False))


if __name__ == "__main__":
    main(sys.argv[1])
