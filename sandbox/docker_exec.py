"""One command in a running container, with a hard timeout and bounded output.

docker-py's exec has no timeout and its stream can hang, so: the command runs in its own
session (setsid) whose id is written to a pid file; a reader thread drains the stream into
bounded buffers; the caller waits on a deadline, then kills the whole session inside the
container with a second exec and closes the socket, so nothing blocks and nothing survives.
"""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Mapping

from docker import APIClient

from sandbox.docker_client import translate_docker_errors
from sandbox.errors import SandboxClosed
from sandbox.output import BoundedBuffer
from sandbox.result import ExecResult

PID_DIR = "/tmp/.quorum-exec"
TIMEOUT_EXIT_CODE = 124
STREAM_GRACE_S = 1.0  # after the kill, how long the stream may take to end on its own
# A thread waiting on a command checks this often whether its sandbox was closed meanwhile:
# closing must end every command at once, and no socket operation reliably wakes a waiter.
WAKE_INTERVAL_S = 0.1

# $1: pid file, $2: the user's command. The wrapper is the session leader, so every
# process the command starts shares its session id and dies with `pkill -s`.
_WRAPPER = (
    f"[ -d {PID_DIR} ] || mkdir -p -m 1777 {PID_DIR}; "
    'echo $$ > "$1"; /bin/bash -c "$2"; rc=$?; rm -f "$1"; exit $rc'
)
_KILLER = (
    'sid=$(cat "$1" 2>/dev/null) || exit 0; '
    'pkill -KILL -s "$sid" 2>/dev/null || kill -KILL -- "-$sid" 2>/dev/null; rm -f "$1"'
)


def run_in_container(
    api: APIClient,
    container_id: str,
    cmd: str,
    *,
    timeout: float,
    workdir: str | None,
    env: Mapping[str, str] | None,
    user: str | None,
    output_limit: int,
    closed: threading.Event | None = None,
) -> ExecResult:
    """`closed`, once set (the sandbox is closing), ends the wait at once with SandboxClosed."""
    start = time.monotonic()
    pid_file = f"{PID_DIR}/{uuid.uuid4().hex}"
    argv = ["setsid", "-w", "/bin/bash", "-c", _WRAPPER, "quorum-exec", pid_file, cmd]
    with translate_docker_errors("exec in sandbox"):
        exec_id = api.exec_create(
            container_id,
            argv,
            stdout=True,
            stderr=True,
            stdin=False,
            tty=False,
            environment=dict(env) if env else None,
            workdir=workdir,
            user=user or "",
        )["Id"]
        stream = api.exec_start(exec_id, stream=True, demux=True)

    out, err = BoundedBuffer(output_limit), BoundedBuffer(output_limit)
    done = threading.Event()
    reader = threading.Thread(target=_drain, args=(stream, out, err, done), daemon=True)
    reader.start()

    timed_out = not _wait(done, start + timeout, closed)
    if closed is not None and closed.is_set():
        # Killed with its container (its stream may have ended with code 137 first): that
        # is no result of the command's own.
        if not done.is_set():
            stream.close()
        raise SandboxClosed("the sandbox was closed while the command ran")
    if timed_out:
        kill_session(api, container_id, pid_file)
        if not done.wait(STREAM_GRACE_S):
            stream.close()  # a stuck stream: drop the socket rather than wait on it
    exit_code = TIMEOUT_EXIT_CODE if timed_out else _exit_code(api, exec_id)
    return ExecResult(
        exit_code=exit_code,
        stdout=out.text(),
        stderr=err.text(),
        duration_s=time.monotonic() - start,
        timed_out=timed_out,
        truncated=out.truncated or err.truncated,
    )


def _wait(done: threading.Event, deadline: float, closed: threading.Event | None) -> bool:
    """True once the command's stream ended; False at the deadline or when `closed` is set."""
    while True:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return False
        if done.wait(remaining if closed is None else min(remaining, WAKE_INTERVAL_S)):
            return True
        if closed is not None and closed.is_set():
            return False


def _drain(stream, out: BoundedBuffer, err: BoundedBuffer, done: threading.Event) -> None:
    try:
        for chunk_out, chunk_err in stream:
            if chunk_out:
                out.write(chunk_out)
            if chunk_err:
                err.write(chunk_err)
    except Exception:  # the socket was closed under us after a timeout
        pass
    finally:
        done.set()


def kill_session(api: APIClient, container_id: str, pid_file: str) -> None:
    with translate_docker_errors("stop a timed-out command"):
        kill_id = api.exec_create(
            container_id, ["/bin/sh", "-c", _KILLER, "quorum-kill", pid_file], user="root"
        )["Id"]
        api.exec_start(kill_id)


def _exit_code(api: APIClient, exec_id: str) -> int:
    # The stream can end a moment before the engine records the exit code.
    with translate_docker_errors("read an exit code"):
        for _ in range(100):
            info = api.exec_inspect(exec_id)
            if not info.get("Running") and info.get("ExitCode") is not None:
                return int(info["ExitCode"])
            time.sleep(0.01)
    return -1
