"""A sandbox in a Docker container: capabilities only. `DockerProvider` starts it."""

from __future__ import annotations

import io
import posixpath
import shlex
import tarfile
import threading
from collections.abc import Callable, Mapping
from typing import Self

from docker import APIClient

from sandbox import git_ops
from sandbox.docker_client import translate_docker_errors
from sandbox.docker_exec import run_in_container
from sandbox.docker_shell import ShellBroken, ShellSession
from sandbox.errors import PathEscape, SandboxClosed, SandboxError
from sandbox.paths import is_inside, join_inside
from sandbox.result import ExecResult

FILE_OP_TIMEOUT_S = 60


class DockerSandbox:
    def __init__(
        self,
        api: APIClient,
        container_id: str,
        *,
        workspace: str,
        user: str | None,
        env: Mapping[str, str],
        output_limit: int,
        base_commit: str | None = None,
        on_close: Callable[[DockerSandbox], None] | None = None,
        persistent_shell: bool = True,
    ) -> None:
        self._api = api
        self.container_id = container_id
        self._workspace = workspace
        self._user = user
        self._env = dict(env)
        self._output_limit = output_limit
        self._base = base_commit
        self._on_close = on_close
        # Set by close(), from any thread: every command waiting in this sandbox ends at once.
        self._closed = threading.Event()
        # Orders shell creation against close(), so no shell starts after the sandbox closed.
        self._state_lock = threading.Lock()
        self._use_shell = persistent_shell
        self._shell: ShellSession | None = None

    @property
    def workspace(self) -> str:
        return self._workspace

    @property
    def base_commit(self) -> str:
        if self._base is None:  # snapshots carry it in a label; a bare image computes it once
            self._base = git_ops.read_base_commit(self)
        return self._base

    def exec(
        self,
        cmd: str,
        *,
        timeout: float,
        workdir: str | None = None,
        env: Mapping[str, str] | None = None,
    ) -> ExecResult:
        self._check_open()
        cwd = join_inside(self._workspace, workdir) if workdir else self._workspace
        try:
            shell = self._idle_shell()
            if shell is not None:
                try:
                    return shell.run(
                        cmd, timeout=timeout, workdir=cwd, env=env, output_limit=self._output_limit
                    )
                except ShellBroken as broken:
                    self._check_open()  # the shell broke because the sandbox was closed
                    with self._state_lock:  # the next call starts another shell
                        if self._shell is shell:
                            self._shell = None
                    if broken.command_sent:  # it may have run: its outcome is unknown
                        raise SandboxError(
                            f"the sandbox's shell died while `{cmd[:80]}` ran; its outcome "
                            "is unknown"
                        ) from broken
                    # never started: run it once, as a one-shot exec
                finally:
                    shell.lock.release()
            return run_in_container(
                self._api,
                self.container_id,
                cmd,
                timeout=timeout,
                workdir=cwd,
                env={**self._env, **(env or {})},
                user=self._user,
                output_limit=self._output_limit,
                closed=self._closed,
            )
        except SandboxError as exc:
            # A command starting while another thread closes the sandbox meets a container
            # being removed: say what happened, not the engine's "no such container".
            if self._closed.is_set() and not isinstance(exc, SandboxClosed):
                raise SandboxClosed(f"sandbox {self.container_id[:12]} was closed") from exc
            raise

    def _idle_shell(self) -> ShellSession | None:
        """The persistent shell, locked for this caller; None when disabled or busy
        (a concurrent caller then takes the slower one-shot exec instead of waiting)."""
        if not self._use_shell:
            return None
        with self._state_lock:
            self._check_open()
            if self._shell is None or self._shell.broken:
                self._shell = ShellSession(
                    self._api, self.container_id, user=self._user, env=self._env
                )
            shell = self._shell
        # closed since? run() raises ShellBroken and exec() reports the closed sandbox
        return shell if shell.lock.acquire(blocking=False) else None

    def read_file(self, path: str) -> bytes:
        self._check_open()
        real = self._resolve(path)
        with translate_docker_errors(f"read {path}"):
            try:
                chunks, _ = self._api.get_archive(self.container_id, real)
            except Exception as exc:  # NotFound arrives as an APIError subclass
                if getattr(exc, "status_code", None) == 404:
                    raise SandboxError(f"cannot read {path}: no such file") from exc
                raise
            archive = io.BytesIO(b"".join(chunks))
        with tarfile.open(fileobj=archive) as tar:
            member = tar.next()
            if member is None or not member.isfile():
                raise SandboxError(f"cannot read {path}: not a regular file")
            handle = tar.extractfile(member)
            assert handle is not None
            return handle.read()

    def write_file(self, path: str, data: bytes | str) -> None:
        self._check_open()
        real = self._resolve(path)
        parent, name = posixpath.split(real)
        payload = data.encode() if isinstance(data, str) else data
        mkdir = self.exec(f"mkdir -p -- {shlex.quote(parent)}", timeout=FILE_OP_TIMEOUT_S)
        if not mkdir.ok:
            raise SandboxError(f"cannot write {path}: {mkdir.output.strip()}")
        archive = io.BytesIO()
        with tarfile.open(fileobj=archive, mode="w") as tar:
            info = tarfile.TarInfo(name)
            info.size = len(payload)
            info.mode = 0o644
            tar.addfile(info, io.BytesIO(payload))
        with translate_docker_errors(f"write {path}"):
            self._api.put_archive(self.container_id, parent, archive.getvalue())
        if self._user:  # put_archive writes as root; hand the file to the sandbox's user
            self._exec_root(f"chown {shlex.quote(self._user)} -- {shlex.quote(real)}")

    def diff(self) -> str:
        self._check_open()
        return git_ops.diff_against(self, self.base_commit)

    def apply_patch(self, patch: str) -> None:
        self._check_open()
        git_ops.apply(self, patch)

    def terminal_argv(self, argv: list[str]) -> list[str]:
        """The `docker exec -it` command line (for the docker CLI, which owns the terminal)
        that runs `argv` in this container as its commands run: same user, environment and
        working directory. For a person at a terminal; programs use `exec`."""
        self._check_open()
        cmd = ["docker", "exec", "-it", "-w", self._workspace]
        if self._user:
            cmd += ["-u", self._user]
        for key, value in self._env.items():
            cmd += ["-e", f"{key}={value}"]
        return [*cmd, self.container_id, *argv]

    def close(self) -> None:
        with self._state_lock:
            if self._closed.is_set():
                return
            self._closed.set()
            shell, self._shell = self._shell, None
        if shell is not None:
            shell.close()
        try:
            with translate_docker_errors("remove sandbox container"):
                self._api.remove_container(self.container_id, force=True)
        except SandboxError as exc:
            if "No such container" not in str(exc):
                raise
        finally:
            if self._on_close:
                self._on_close(self)

    def _resolve(self, path: str) -> str:
        """The real path (symlinks followed, inside the container) of a workspace path."""
        lexical = join_inside(self._workspace, path)
        result = self._exec_root(f"realpath -m -- {shlex.quote(lexical)}")
        real = result.stdout.strip()
        if not result.ok or not real:
            raise SandboxError(f"cannot resolve {path}: {result.output.strip()}")
        if not is_inside(self._workspace, real):
            raise PathEscape(f"{path!r} resolves to {real}, outside the workspace")
        return real

    def _exec_root(self, cmd: str) -> ExecResult:
        return run_in_container(
            self._api,
            self.container_id,
            cmd,
            timeout=FILE_OP_TIMEOUT_S,
            workdir="/",
            env=None,
            user="root",
            output_limit=64 * 1024,
            closed=self._closed,
        )

    def _check_open(self) -> None:
        if self._closed.is_set():
            raise SandboxClosed(f"sandbox {self.container_id[:12]} was closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
