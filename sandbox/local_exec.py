"""Running a command on the host with a hard timeout and bounded output."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import threading
import time
from collections.abc import Mapping
from pathlib import Path
from typing import IO

from sandbox.output import BoundedBuffer
from sandbox.result import ExecResult

TIMEOUT_EXIT_CODE = 124  # what coreutils `timeout` returns; callers also get timed_out=True
KILL_GRACE_S = 0.5
# Host variables a sandboxed command never sees: whatever an agent runs, its output goes back
# to a model (and into trajectories), so credentials of the host process stay out of reach.
_CREDENTIAL_NAME = re.compile(
    r"KEY|TOKEN|SECRET|PASSWORD|PASSWD|CREDENTIAL|COOKIE|SESSION|^AWS_|^GITHUB_|^GH_|^OPENAI_"
    r"|^ANTHROPIC_|^AZURE_|^GOOGLE_|^HF_|^HUGGING|^QUORUM_APP_|^QUORUM_WEBHOOK", re.IGNORECASE)


def host_env() -> dict[str, str]:
    """The host's environment without anything that looks like a credential."""
    return {k: v for k, v in os.environ.items() if not _CREDENTIAL_NAME.search(k)}


def run_local(
    cmd: str,
    *,
    cwd: Path,
    timeout: float,
    env: Mapping[str, str] | None,
    output_limit: int,
) -> ExecResult:
    start = time.monotonic()
    proc = subprocess.Popen(
        ["/bin/bash", "-c", cmd],
        cwd=cwd,
        env={**host_env(), **(env or {})},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group, so a timeout kills every child
    )
    out, err = BoundedBuffer(output_limit), BoundedBuffer(output_limit)
    readers = [_drain(proc.stdout, out), _drain(proc.stderr, err)]
    timed_out = False
    try:
        proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
    finally:
        _kill_group(proc.pid)  # also reaps background children the command left behind
        proc.wait()
    for reader in readers:
        reader.join(KILL_GRACE_S)  # a grandchild that escaped the group may hold the pipe
    return ExecResult(
        exit_code=TIMEOUT_EXIT_CODE if timed_out else proc.returncode,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=time.monotonic() - start,
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )


def _drain(stream: IO[bytes] | None, sink: BoundedBuffer) -> threading.Thread:
    def pump() -> None:
        assert stream is not None
        with stream:
            while chunk := stream.read1(65536):  # type: ignore[attr-defined]
                sink.write(chunk)

    thread = threading.Thread(target=pump, daemon=True)
    thread.start()
    return thread


def _kill_group(pgid: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signal.SIGKILL)
