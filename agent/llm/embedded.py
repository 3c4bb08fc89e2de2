"""The embedded local model: Qwen2.5-Coder-1.5B-Instruct served by llama-cpp-python.

`ensure_model(cache_dir)` obtains and verifies the GGUF (see `embedded_fetch`);
`EmbeddedServer(model_path)` runs llama-cpp-python's OpenAI-compatible server on a free
loopback port for the life of a `with` block, so the embedded model is reached through the
same client as any other endpoint (`base_url`, `model_name`). Chat format `chatml`; either
logprobs (`logits_all`, for the YES/NO verifier) or the RAM prompt cache (for solving: the
requests of N trajectories share prefixes), never both: llama-cpp-python copies the logits
of every position into each cached state (0.6 MB a token for this vocabulary) without
counting them against the cache size, and a solve run grew one server to 23 GB and the OOM
killer.
"""

from __future__ import annotations

import contextlib
import ctypes
import importlib.util
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from types import TracebackType

import httpx
import platformdirs

from agent.llm.embedded_fetch import (
    QWEN25_CODER_1_5B,
    ModelFetchError,
    ModelSpec,
    ModelStatus,
    ensure_model,
    model_path,
    model_status,
)
from sandbox.errors import QuorumError

__all__ = [
    "EMBEDDED_HINT",
    "QWEN25_CODER_1_5B",
    "EmbeddedServer",
    "EmbeddedServerError",
    "ModelFetchError",
    "ModelSpec",
    "ModelStatus",
    "default_cache_dir",
    "default_threads",
    "ensure_model",
    "llama_cpp_installed",
    "model_path",
    "model_status",
]

EMBEDDED_HINT = "install the embedded extra: .venv/bin/pip install -e '.[embedded]'"


class EmbeddedServerError(QuorumError):
    """The embedded model server could not be started or stopped."""


def default_cache_dir() -> Path:
    """The user's cache directory for Quorum (the CLI lets QUORUM_CACHE_DIR override it)."""
    return Path(platformdirs.user_cache_dir("quorum"))


def llama_cpp_installed() -> bool:
    return all(importlib.util.find_spec(m) is not None for m in ("llama_cpp", "uvicorn", "fastapi"))


def _free_port(host: str) -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def _port_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn binds
        try:
            s.bind((host, port))
        except OSError:
            return False
    return True


class EmbeddedServer:
    """llama-cpp-python's OpenAI-compatible server as a child process, for a `with` block.

    Entering starts it and waits until `/v1/models` answers; a server that dies or does not
    answer within `startup_timeout` raises EmbeddedServerError with the tail of its log.
    Leaving stops it (SIGTERM, then SIGKILL), also when the block raises.
    """

    def __init__(
        self,
        model: Path,
        *,
        model_name: str = QWEN25_CODER_1_5B.name,
        host: str = "127.0.0.1",
        port: int | None = None,
        n_ctx: int = 8192,
        n_threads: int | None = None,
        logits_all: bool = True,
        prompt_cache: bool = True,
        cache_size: int = 1 << 30,
        startup_timeout: float = 180.0,
        stop_grace: float = 10.0,
        python: str = sys.executable,
        log_path: Path | None = None,
        extra_args: Sequence[str] = (),
        env: Mapping[str, str] | None = None,
    ) -> None:
        self.model = Path(model)
        self.model_name = model_name
        self.host = host
        self._auto_port = not port
        self.port = port or _free_port(host)
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads()
        self.logits_all = logits_all
        self.prompt_cache = prompt_cache and not logits_all  # see the module docstring
        self.cache_size = cache_size
        self.startup_timeout = startup_timeout
        self.stop_grace = stop_grace
        self.python = python
        self._own_log = log_path is None
        self.log_path = log_path or Path(tempfile.gettempdir()) / "quorum-llama-unstarted.log"
        self.extra_args = list(extra_args)
        self.env = dict(env or {})
        self._proc: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    def command(self) -> list[str]:
        def flag(on: bool) -> str:
            return "true" if on else "false"

        cmd = [
            self.python, "-m", "llama_cpp.server",
            "--model", str(self.model),
            "--model_alias", self.model_name,
            "--chat_format", "chatml",
            "--logits_all", flag(self.logits_all),
            "--n_ctx", str(self.n_ctx),
            "--n_threads", str(self.n_threads),
            "--n_threads_batch", str(self.n_threads),
            "--host", self.host,
            "--port", str(self.port),
        ]
        if self.prompt_cache:
            cmd += ["--cache", "true", "--cache_type", "ram", "--cache_size", str(self.cache_size)]
        return cmd + self.extra_args

    def log_tail(self, lines: int = 25) -> str:
        try:
            text = self.log_path.read_text(errors="replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.strip().splitlines()[-lines:]) or "(empty log)"

    # ------------------------------------------------------------ lifecycle

    def start(self) -> EmbeddedServer:
        if self._proc is not None:
            return self
        if not self.model.is_file():
            raise EmbeddedServerError(
                f"model file {self.model} does not exist", hint="run `quorum model fetch`"
            )
        if not _port_free(self.host, self.port):
            if not self._auto_port:
                raise EmbeddedServerError(
                    f"port {self.port} on {self.host} is already in use",
                    hint="choose another port, or 0 for a free one",
                )
            self.port = _free_port(self.host)
        if self._own_log:
            fd, name = tempfile.mkstemp(prefix="quorum-llama-", suffix=".log")
            os.close(fd)
            self.log_path = Path(name)
        with self.log_path.open("wb") as log:
            try:
                self._proc = subprocess.Popen(
                    self.command(),
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env={**os.environ, **self.env},
                    start_new_session=True,  # its own group: stopped by us, not by a stray ^C
                    preexec_fn=_die_with_parent(),
                )
            except OSError as exc:
                raise EmbeddedServerError(f"cannot start {self.python}: {exc}") from exc
        try:
            self._wait_ready()
        except BaseException:
            self.stop()
            raise
        return self

    def _wait_ready(self) -> None:
        assert self._proc is not None
        deadline = time.monotonic() + self.startup_timeout
        url = f"{self.base_url}/models"
        with httpx.Client(timeout=2.0) as client:
            while True:
                code = self._proc.poll()
                if code is not None:
                    tail = self.log_tail()
                    hint = EMBEDDED_HINT if "No module named" in tail else (
                        "check the model file (`quorum model status --deep`) and the log above"
                    )
                    raise EmbeddedServerError(
                        f"the embedded model server exited with code {code} while starting "
                        f"(log {self.log_path}):\n{tail}",
                        hint=hint,
                    )
                with contextlib.suppress(httpx.HTTPError):
                    if client.get(url).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise EmbeddedServerError(
                        f"the embedded model server did not answer at {url} within "
                        f"{self.startup_timeout:.0f}s (log {self.log_path}):\n{self.log_tail()}",
                        hint="a slow machine may need a longer startup timeout",
                    )
                time.sleep(0.25)

    def stop(self) -> None:
        grace = self.stop_grace
        proc, self._proc = self._proc, None
        if proc is None:
            return
        try:
            if proc.poll() is None:
                _signal_group(proc, signal.SIGTERM)
                try:
                    proc.wait(timeout=grace)
                except subprocess.TimeoutExpired:
                    _signal_group(proc, signal.SIGKILL)
                    proc.wait(timeout=grace)
        finally:
            if proc.poll() is None:  # pragma: no cover - last resort
                proc.kill()
                proc.wait()

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    @property
    def pid(self) -> int | None:
        return self._proc.pid if self._proc else None

    def wait(self) -> int:
        """Block until the server exits (for `quorum model serve`)."""
        assert self._proc is not None
        return self._proc.wait()

    def __enter__(self) -> EmbeddedServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
        if self._own_log:  # a failed start keeps its log: the error names it
            self.log_path.unlink(missing_ok=True)


def default_threads() -> int:
    """All CPUs but one. llama.cpp's threads wait for each other at every layer, so one
    preempted thread stalls the rest: on 2 busy cores, 2 threads generated 2 tok/s where 1
    thread generated 6-9 (sandboxes and the agent share the machine with the model)."""
    affinity = getattr(os, "sched_getaffinity", None)
    cpus = len(affinity(0)) if affinity else os.cpu_count() or 1
    return max(1, cpus - 1)


def _die_with_parent() -> Callable[[], None] | None:
    """On Linux, have the kernel SIGTERM the server if we die without cleaning up (SIGKILL,
    a `timeout` wrapper). Only from the main thread: the signal follows the creating thread."""
    if not sys.platform.startswith("linux") or threading.current_thread() is not (
        threading.main_thread()
    ):
        return None
    try:
        libc = ctypes.CDLL(None, use_errno=True)
    except OSError:  # pragma: no cover
        return None
    parent = os.getpid()

    def preexec() -> None:
        # PR_SET_PDEATHSIG. SIGKILL, not SIGTERM: uvicorn answers SIGTERM by waiting for the
        # request in flight, minutes of generation on a small CPU, and an orphan saves nothing.
        libc.prctl(1, signal.SIGKILL)
        if os.getppid() != parent:  # the parent died before prctl took effect
            os._exit(1)

    return preexec


def _signal_group(proc: subprocess.Popen[bytes], sig: int) -> None:
    try:
        os.killpg(proc.pid, sig)
    except (ProcessLookupError, PermissionError):
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(sig)
