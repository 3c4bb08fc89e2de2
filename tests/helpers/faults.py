"""Helpers for the fault tests: a stand-in router that scripts many conversations at once
and can hold one request until the test says so, and a `quorum` child process to kill.

The router answers each request from the script of its route (the model, or the instance
and trajectory the request belongs to) by position: the reply is `script[k]` where k is the
number of assistant messages the request carries. It keeps no cursor, so a retried call, a
restarted trajectory and a second process all get the reply their conversation is at."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import docker

from sandbox import labels
from tests.helpers.openai_standin import OpenAIStandIn, Reply

QUORUM = [sys.executable, "-m", "quorum.cli"]
KEY_ENV = "QUORUM_FAULT_TEST_KEY"
ENV = {KEY_ENV: "sk-fault-test-key-123"}


class Hold:
    """One request held back: `arrived` is set when it comes, it waits for `released`."""

    def __init__(self, answer: bool) -> None:
        self.answer = answer
        self.arrived = threading.Event()
        self.released = threading.Event()


class Router:
    def __init__(
        self,
        route: Callable[[dict[str, Any]], str],
        scripts: Mapping[str, Sequence[Reply]],
        *,
        default: Reply | None = None,
    ) -> None:
        self.route = route
        self.scripts = {key: list(replies) for key, replies in scripts.items()}
        self.default = default or Reply.text("ok")
        self.calls: Counter[str] = Counter()
        self._holds: dict[tuple[str, int], Hold] = {}
        self._lock = threading.Lock()

    def hold(self, route: str, step: int, *, answer: bool = False) -> Hold:
        """The next request of `route` at `step` (0-based) waits until released; then it
        gets its scripted reply if `answer`, else a dropped connection (for a caller that
        was killed meanwhile)."""
        hold = Hold(answer)
        with self._lock:
            self._holds[(route, step)] = hold
        return hold

    def reset(self) -> None:
        with self._lock:
            self.calls.clear()

    def __call__(self, body: dict[str, Any]) -> Reply:
        key = self.route(body)
        step = sum(m.get("role") == "assistant" for m in body.get("messages", []))
        with self._lock:
            self.calls[key] += 1
            hold = self._holds.pop((key, step), None)
        if hold is not None:
            hold.arrived.set()
            hold.released.wait(120)
            if not hold.answer:
                return Reply.dropped()
        script = self.scripts.get(key, [])
        return script[step] if step < len(script) else self.default


def models_file(path: Path, server: OpenAIStandIn, *names: str) -> Path:
    path.write_text("".join(
        f'[models.{n}]\nbase_url = "{server.base_url}"\napi_key_env = "{KEY_ENV}"\nfree = true\n'
        for n in names
    ))  # fmt: skip
    return path


def leftovers(client: docker.DockerClient, pid: int) -> list[str]:
    """Quorum's containers, running or not, started by process `pid`."""
    found = client.api.containers(
        all=True, filters={"label": [f"{labels.MANAGED}=1", f"{labels.OWNER_PID}={pid}"]}
    )
    return [c["Id"] for c in found]


def lines(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for line in path.read_text().splitlines():
        try:
            out.append(json.loads(line))
        except ValueError:
            continue  # a line being written
    return out


def ids(path: Path, key: str = "id") -> list[str]:
    return [rec[key] for rec in lines(path)]


def wait_until(condition: Callable[[], bool], what: str, *, child: subprocess.Popen | None = None,
               log: Path | None = None, timeout_s: float = 90) -> None:
    """Poll `condition`; fail with `what` (and the child's log) if it never holds, or if the
    child exits first."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        tail = log.read_text()[-4000:] if log is not None and log.exists() else ""
        if child is not None and child.poll() is not None:
            raise AssertionError(f"the child exited ({child.returncode}) before {what}\n{tail}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}\n{tail}")
        time.sleep(0.1)


def start_quorum(args: Sequence[str], log: Path, env: Mapping[str, str]) -> subprocess.Popen:
    """`quorum ARGS` as a child process, its output in `log`."""
    with log.open("w") as out:
        return subprocess.Popen(
            [*QUORUM, *args], stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **env},
        )  # fmt: skip


def run_quorum(args: Sequence[str], log: Path, env: Mapping[str, str],
               timeout_s: float = 120) -> int:
    child = start_quorum(args, log, env)
    try:
        return child.wait(timeout_s)
    except subprocess.TimeoutExpired as exc:
        child.kill()
        child.wait()
        tail = log.read_text()[-4000:]
        raise AssertionError(f"quorum {args[0]} ran over {timeout_s}s\n{tail}") from exc


def kill_9(child: subprocess.Popen) -> None:
    """SIGKILL: no finally, no atexit, no signal handler runs."""
    os.kill(child.pid, signal.SIGKILL)
    assert child.wait(30) == -signal.SIGKILL


def tree(root: Path) -> set[str]:
    """Relative paths of every file under `root` (the run's shape)."""
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


class EngineProxy:
    """A unix socket in front of the Docker engine's, to be a child process's DOCKER_HOST.
    `down()` is the engine going away, as in a restart: every connection is cut and new
    ones are refused; `up()` serves again. The real engine, which other tests share, is
    never touched."""

    def __init__(self, path: Path, upstream: str) -> None:
        self.path, self.upstream = path, upstream
        self._listener: socket.socket | None = None
        self._conns: set[socket.socket] = set()
        self._lock = threading.Lock()

    @property
    def url(self) -> str:
        return f"unix://{self.path}"

    def up(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        listener.bind(str(self.path))
        listener.listen(64)
        self._listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def down(self) -> None:
        listener, self._listener = self._listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)  # wakes the accept() below
            listener.close()
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a new connection now fails as on a stopped engine
        with self._lock:
            conns, self._conns = list(self._conns), set()
        for conn in conns:
            with contextlib.suppress(OSError):
                conn.shutdown(socket.SHUT_RDWR)
            conn.close()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # down
            engine = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            try:
                engine.connect(self.upstream)
            except OSError:
                client.close()
                engine.close()
                continue
            with self._lock:
                self._conns.update((client, engine))
            for src, dst in ((client, engine), (engine, client)):
                threading.Thread(target=self._pump, args=(src, dst), daemon=True).start()

    @staticmethod
    def _pump(src: socket.socket, dst: socket.socket) -> None:
        try:
            while data := src.recv(65536):
                dst.sendall(data)
            dst.shutdown(socket.SHUT_WR)  # pass a half-close on (docker's attach uses it)
        except OSError:
            with contextlib.suppress(OSError):
                dst.shutdown(socket.SHUT_RDWR)
