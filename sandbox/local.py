"""A sandbox that is only a temporary copy of the repository on the host: the base commit
and its ancestors (sandbox/base_repo.py), as in a Docker snapshot.

It isolates nothing (no network, memory or filesystem limits), so it warns when created;
it exists for machines without Docker and for fast tests of the protocol.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Self

from sandbox import git_ops
from sandbox.base_repo import export_base_repo, has_commits, is_git_repo
from sandbox.errors import SandboxClosed, SandboxError
from sandbox.local_exec import run_local
from sandbox.paths import resolve_local
from sandbox.protocol import DEFAULT_OUTPUT_LIMIT
from sandbox.result import ExecResult

log = logging.getLogger(__name__)


class LocalSandbox:
    def __init__(
        self,
        source: Path,
        *,
        commit: str | None = None,
        output_limit: int = DEFAULT_OUTPUT_LIMIT,
        warn: bool = True,
    ) -> None:
        """A git `source` (work tree or bare) becomes a repository of `commit` (default: HEAD)
        and its ancestors only, checked out clean: none of the source's other refs, its
        reflog, stash or later objects (sandbox/base_repo.py), nor its uncommitted changes.
        Any other directory (or a repository without a commit) is copied as it is."""
        source = Path(source)
        if not source.is_dir():
            raise SandboxError(f"cannot create a local sandbox: {source} is not a directory")
        if warn:
            log.warning("local sandbox: commands run on this host with no isolation")
        self._tmp = Path(tempfile.mkdtemp(prefix="quorum-local-"))
        self._root = self._tmp / "workspace"
        self._output_limit = output_limit
        self._closed = False
        try:
            if is_git_repo(source) and (commit or has_commits(source)):
                export_base_repo(source, self._root, commit or "HEAD")
            elif commit:
                raise SandboxError(f"cannot check out {commit}: {source} is not a git repository")
            else:  # files only: the base commit is made of them (git_ops.read_base_commit)
                top = str(source)
                shutil.copytree(source, self._root, symlinks=True,
                                ignore=lambda d, _names: {".git"} if d == top else set())
            self._base = git_ops.read_base_commit(self)
        except BaseException:
            self.close()
            raise

    @property
    def workspace(self) -> str:
        return str(self._root)

    @property
    def base_commit(self) -> str:
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
        cwd = resolve_local(self._root, workdir) if workdir else self._root
        return run_local(cmd, cwd=cwd, timeout=timeout, env=env, output_limit=self._output_limit)

    def read_file(self, path: str) -> bytes:
        self._check_open()
        target = resolve_local(self._root, path)
        try:
            return target.read_bytes()
        except OSError as exc:
            raise SandboxError(f"cannot read {path}: {exc.strerror}") from exc

    def write_file(self, path: str, data: bytes | str) -> None:
        self._check_open()
        target = resolve_local(self._root, path)
        payload = data.encode() if isinstance(data, str) else data
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(payload)
        except OSError as exc:
            raise SandboxError(f"cannot write {path}: {exc.strerror}") from exc

    def diff(self) -> str:
        self._check_open()
        return git_ops.diff_against(self, self._base)

    def apply_patch(self, patch: str) -> None:
        self._check_open()
        git_ops.apply(self, patch)

    def close(self) -> None:
        self._closed = True
        shutil.rmtree(self._tmp, ignore_errors=True)

    def _check_open(self) -> None:
        if self._closed:
            raise SandboxClosed("this local sandbox was closed")

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
