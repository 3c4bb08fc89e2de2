"""The App's real server in a subprocess (uvicorn on 127.0.0.1), for tests and
benchmarks/app_load.py that kill it: `AppProcess(...).start()`, `.kill9()`, `.start()` again.

It runs `create_app` + `serve` exactly as `quorum app` does, with a test handler chosen by
import path (`--handler tests.helpers.app_process:instant_handler`): test code only, never
reachable from `quorum app`, which always builds the real SolveHandler. The handlers are real
implementations of the JobHandler protocol:

- `instant_handler`: every job done at once;
- `counting_handler`: every job done at once, after appending `{"job", "resumed"}` to
  $QUORUM_TEST_CALLS (so a job run twice shows);
- `gate_handler`: appends `{"job", "resumed", "state"}` to $QUORUM_TEST_CALLS, then waits
  until the file $QUORUM_TEST_GATE exists before answering done.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import httpx
from pydantic import SecretStr

from quorum.app.server import create_app, serve
from quorum.app.settings import AppSettings
from quorum.app.store import Job, JobOutcome
from quorum.app.workers import JobHandler

ROOT = Path(__file__).resolve().parents[2]
GATE_POLL_S = 0.02


class InstantHandler:
    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        return JobOutcome(state="done", note="instant")


class CountingHandler:
    def __init__(self, calls: Path) -> None:
        self.calls = calls

    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        with self.calls.open("a") as out:  # one write(): a kill -9 cannot cut a line
            out.write(json.dumps({"job": job.id, "resumed": resumed}) + "\n")
        return JobOutcome(state="done")


class GateHandler:
    def __init__(self, calls: Path, gate: Path) -> None:
        self.calls, self.gate = calls, gate

    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        with self.calls.open("a") as out:
            out.write(json.dumps({"job": job.id, "resumed": resumed, "state": job.state}) + "\n")
            out.flush()
            os.fsync(out.fileno())
        while not self.gate.exists():
            await asyncio.sleep(GATE_POLL_S)
        return JobOutcome(state="done", note="gate opened")


def instant_handler(environ: Mapping[str, str]) -> JobHandler:
    return InstantHandler()


def counting_handler(environ: Mapping[str, str]) -> JobHandler:
    return CountingHandler(Path(environ["QUORUM_TEST_CALLS"]))


def gate_handler(environ: Mapping[str, str]) -> JobHandler:
    return GateHandler(Path(environ["QUORUM_TEST_CALLS"]), Path(environ["QUORUM_TEST_GATE"]))


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def settings_for_tests(db: Path, secret: str, *, workers: int = 2, per_installation: int = 1,
                  poll_interval_s: float = 0.5) -> AppSettings:  # fmt: skip
    """Settings for a server under test (no real App key: the test handlers need none)."""
    return AppSettings(
        app_id=1, private_key_path=db.parent / "unused.pem",
        private_key_pem=SecretStr("unused"), webhook_secret=SecretStr(secret),
        db_path=db, workdir=db.parent / "work", workers=workers,
        per_installation_concurrency=per_installation, poll_interval_s=poll_interval_s,
        docker_host="unix:///nonexistent/quorum-test-docker.sock",
    )  # fmt: skip


class AppProcess:
    """One server process at a time on a fixed port, restartable on the same database."""

    def __init__(self, db: Path, secret: str, *, handler: str, env: Mapping[str, str] | None
                 = None, workers: int = 2, per_installation: int = 1) -> None:  # fmt: skip
        self.db, self.secret, self.handler = db, secret, handler
        self.env = {**os.environ, **(env or {}), "QUORUM_TEST_SECRET": secret}
        self.env["PYTHONPATH"] = f"{ROOT}{os.pathsep}{self.env.get('PYTHONPATH', '')}"
        self.workers, self.per_installation = workers, per_installation
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = db.parent / "server.log"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self, timeout_s: float = 20) -> AppProcess:
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "tests.helpers.app_process", "--handler", self.handler,
                 "--db", str(self.db), "--port", str(self.port), "--workers", str(self.workers),
                 "--per-installation", str(self.per_installation)],
                env=self.env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited {self.proc.returncode}: {self.log_text()}")
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return self
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"server did not answer in {timeout_s}s: {self.log_text()}")

    def kill9(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> int:
        """SIGTERM (uvicorn's graceful shutdown); its exit code."""
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else 0
        self.proc.terminate()
        try:
            return self.proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.kill9()
            return -9

    def log_text(self) -> str:
        return self.log.read_text(errors="replace")[-4000:] if self.log.exists() else ""

    def __enter__(self) -> AppProcess:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="The App's server with a test handler.")
    parser.add_argument("--handler", required=True, help="module:factory(environ)")
    parser.add_argument("--db", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--per-installation", type=int, default=1)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")
    module, _, attr = args.handler.partition(":")
    handler = getattr(importlib.import_module(module), attr)(os.environ)
    settings = settings_for_tests(args.db, os.environ["QUORUM_TEST_SECRET"],
                                  workers=args.workers, per_installation=args.per_installation,
                                  poll_interval_s=0.2)
    serve(create_app(settings, handler), "127.0.0.1", args.port)


if __name__ == "__main__":
    main()
