"""A persistent shell inside a container: one bash attached over the exec socket runs every
command, so a command costs a few milliseconds instead of a new `docker exec` (~60-90 ms).

Each command still runs in its own session (setsid) with a pid file, so the hard timeout
kills it the same way as a one-shot exec; the shell itself survives and reports the exit
code. Commands are framed by an end marker carrying a random id on both streams (docker
demultiplexes stdout and stderr separately, so one marker could overtake the other stream).
"""

from __future__ import annotations

import contextlib
import select
import shlex
import socket
import struct
import threading
import time
import uuid
from collections.abc import Mapping

from docker import APIClient

from sandbox.docker_client import translate_docker_errors
from sandbox.docker_exec import (
    PID_DIR,
    STREAM_GRACE_S,
    TIMEOUT_EXIT_CODE,
    WAKE_INTERVAL_S,
    kill_session,
)
from sandbox.errors import SandboxError
from sandbox.output import BoundedBuffer
from sandbox.result import ExecResult

_END = b"\x1eQUORUM-END "
# Reads "<id> <byte length>\n<script>" and runs the script in its own session. Builtins
# only (read -N in the C locale counts bytes) so a command costs two process starts.
_SERVER = f"""
[ -d {PID_DIR} ] || mkdir -p -m 1777 {PID_DIR}
while IFS=' ' read -r id size; do
  LC_ALL=C IFS= read -r -d '' -N "$size" script
  setsid -w /bin/bash -c "$script" </dev/null
  rc=$?
  printf '\\036QUORUM-END %s %d\\036' "$id" "$rc"
  printf '\\036QUORUM-END %s' "$id" >&2
done
"""


class ShellBroken(SandboxError):
    """The persistent shell died or its stream stuck. `command_sent` says whether the
    command may have started: only one that surely did not may run again elsewhere."""

    def __init__(self, message: str, *, command_sent: bool) -> None:
        super().__init__(message)
        self.command_sent = command_sent


class ShellSession:
    def __init__(
        self,
        api: APIClient,
        container_id: str,
        *,
        user: str | None,
        env: Mapping[str, str],
    ) -> None:
        self._api = api
        self._container_id = container_id
        self.lock = threading.Lock()  # one command at a time; callers try-acquire
        with translate_docker_errors("start a persistent shell"):
            exec_id = api.exec_create(
                container_id,
                ["/bin/bash", "-c", _SERVER],
                stdin=True,
                stdout=True,
                stderr=True,
                tty=False,
                environment=dict(env) or None,
                user=user or "",
            )["Id"]
            raw = api.exec_start(exec_id, socket=True)
        # docker-py hands back a SocketIO over a unix socket; we want the socket itself.
        self._sock: socket.socket = getattr(raw, "_sock", raw)
        self._raw = raw
        self._sock.setblocking(True)
        self._pending = b""
        self._pid_file = f"{PID_DIR}/shell-{uuid.uuid4().hex}"
        self.broken = False

    def run(
        self,
        cmd: str,
        *,
        timeout: float,
        workdir: str,
        env: Mapping[str, str] | None,
        output_limit: int,
    ) -> ExecResult:
        if self.broken:
            raise ShellBroken("the persistent shell is gone", command_sent=False)
        start = time.monotonic()
        command_id = uuid.uuid4().hex
        pid_file = self._pid_file  # commands in one shell run one at a time
        exports = "".join(f"export {k}={shlex.quote(v)}\n" for k, v in (env or {}).items())
        # eval keeps `bash -c` semantics (the whole command parsed first) without a new bash
        script = (
            f"echo $$ > {pid_file}\ncd -- {shlex.quote(workdir)} || exit 1\n{exports}"
            f"eval {shlex.quote(cmd)}\n"
        ).encode()
        line = f"{command_id} {len(script)}\n".encode() + script
        out, err = BoundedBuffer(output_limit), BoundedBuffer(output_limit)
        reader = _Frames(self, command_id.encode(), out, err)
        sent = False
        try:
            self._sock.sendall(line)
            sent = True
            finished = reader.read_until(start + timeout)
            timed_out = not finished
            if timed_out:
                kill_session(self._api, self._container_id, pid_file)
                if not reader.read_until(time.monotonic() + STREAM_GRACE_S):
                    self.close()  # stuck: drop this shell, the next call starts another
        except OSError as exc:
            self.close()
            # A send refused means the shell was gone before the command reached it; once
            # sent, the command may be running or done, and must not run a second time.
            raise ShellBroken(f"the persistent shell failed: {exc}", command_sent=sent) from exc
        return ExecResult(
            exit_code=TIMEOUT_EXIT_CODE if timed_out else reader.exit_code,
            stdout=out.text(),
            stderr=err.text(),
            duration_s=time.monotonic() - start,
            timed_out=timed_out,
            truncated=out.truncated or err.truncated,
        )

    def close(self) -> None:
        self.broken = True  # a reader waiting in recv() sees this within WAKE_INTERVAL_S
        # shutdown() first: it usually wakes a thread waiting in select() on this socket at
        # once (a signal handler closing every sandbox while workers wait on commands).
        # Not always: on Linux 6.18 about one shutdown in six left the waiter asleep, so
        # recv() also waits in short slices and checks `broken` between them.
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        for closable in (self._sock, self._raw):
            with contextlib.suppress(OSError):
                closable.close()

    def recv(self, deadline: float) -> bytes | None:
        """Next bytes from the socket, None at the deadline; OSError once the shell is
        closed (from another thread too) or its stream ends."""
        while True:
            if self.broken:
                raise OSError("the persistent shell was closed")
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return None
            try:
                ready, _, _ = select.select([self._sock], [], [], min(remaining, WAKE_INTERVAL_S))
            except ValueError as exc:  # the socket was closed under us: fileno() is -1
                raise OSError("the persistent shell was closed") from exc
            if ready:
                break
        data = self._sock.recv(1 << 16)
        if not data:
            self.broken = True
            raise OSError("the shell's stream ended")
        return data


class _Frames:
    """Parses docker's multiplexed frames for one command until both end markers arrive."""

    def __init__(
        self, shell: ShellSession, command_id: bytes, out: BoundedBuffer, err: BoundedBuffer
    ) -> None:
        self._shell = shell
        self._needle = _END + command_id
        self._sinks = {1: out, 2: err}
        self._held = {1: b"", 2: b""}  # bytes that may be the start of a marker
        self._done = {1: False, 2: False}
        self._trailer: bytes | None = None  # stdout after its end marker was found
        self.exit_code = -1

    def read_until(self, deadline: float) -> bool:
        while not all(self._done.values()):
            header = self._take(8, deadline)
            if header is None:
                return False
            stream, size = struct.unpack(">BxxxL", header)
            payload = self._take(size, deadline)
            if payload is None:  # keep the partial frame's header for the next read
                self._shell._pending = header + self._shell._pending
                return False
            if stream in self._sinks:
                self._feed(stream, payload)
        return True

    def _take(self, n: int, deadline: float) -> bytes | None:
        shell = self._shell
        while len(shell._pending) < n:
            data = shell.recv(deadline)
            if data is None:
                return None
            shell._pending += data
        chunk, shell._pending = shell._pending[:n], shell._pending[n:]
        return chunk

    def _feed(self, stream: int, payload: bytes) -> None:
        if stream == 1 and self._trailer is not None:
            self._trailer += payload
            self._finish_stdout()
            return
        data = self._held[stream] + payload
        at = data.find(self._needle)
        if at < 0:
            keep = min(len(data), len(self._needle) - 1)
            self._sinks[stream].write(data[: len(data) - keep])
            self._held[stream] = data[len(data) - keep :]
            return
        self._sinks[stream].write(data[:at])
        self._held[stream] = b""
        if stream == 2:
            self._done[2] = True
        else:
            self._trailer = data[at + len(self._needle) :]
            self._finish_stdout()

    def _finish_stdout(self) -> None:
        # stdout's marker ends " <exit code>\x1e"; it may arrive split over frames.
        assert self._trailer is not None
        end = self._trailer.find(b"\x1e")
        if end >= 0:
            self.exit_code = int(self._trailer[:end])
            self._done[1] = True
