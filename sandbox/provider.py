"""Provisioning Docker sandboxes: starting containers, preparing snapshots."""

from __future__ import annotations

import hashlib
import json
import shlex
import tarfile
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
from docker.types import Mount

from sandbox import labels
from sandbox.base_repo import export_base_repo, resolve_commit
from sandbox.config import CONTAINER_CA_BUNDLE, DockerSandboxConfig, SnapshotSpec
from sandbox.docker_client import connect, translate_docker_errors
from sandbox.docker_sandbox import DockerSandbox
from sandbox.errors import SandboxError
from sandbox.gc import sweep
from sandbox.owner import current_owner
from sandbox.registry import SandboxRegistry

SNAPSHOT_REPO = "quorum/snapshot"
# Bump when how snapshots are made changes their content. 3: the repository holds the base
# commit and its ancestors only (sandbox/base_repo.py); older snapshots carry its future.
SNAPSHOT_RECIPE_VERSION = 3
_CONTAINER_ONLY = (labels.RUN_ID, labels.OWNER_PID, labels.OWNER_HOST, labels.OWNER_STARTED,
                   labels.CREATED_AT, labels.TTL_S)
_CA_ENV = ("SSL_CERT_FILE", "REQUESTS_CA_BUNDLE", "PIP_CERT", "GIT_SSL_CAINFO")


class DockerProvider:
    """Starts sandboxes for one run and knows which of them are still alive."""

    def __init__(self, client: docker.DockerClient, *, run_id: str | None = None) -> None:
        self.client = client
        self.run_id = run_id or uuid.uuid4().hex[:12]
        self.registry = SandboxRegistry()

    @classmethod
    def connect(
        cls, base_url: str | None = None, *, run_id: str | None = None, gc: bool = True
    ) -> DockerProvider:
        """Connect to the engine and, by default, sweep what crashed runs left behind."""
        provider = cls(connect(base_url), run_id=run_id)
        if gc:
            sweep(provider.client)
        return provider

    def start(self, config: DockerSandboxConfig, *, kind: str = "sandbox") -> DockerSandbox:
        with translate_docker_errors(f"start a sandbox from {config.image}"):
            image = self.client.images.get(config.image)
            # A snapshot knows where its repository is (an official image's is /testbed).
            workspace = (image.labels or {}).get(labels.WORKSPACE) or config.workspace
            container = self.client.containers.run(
                config.image,
                ["sleep", "infinity"],
                detach=True,
                init=True,  # reaps orphans, forwards signals
                labels=self._labels(kind, config.ttl_s),
                working_dir=workspace,
                network_mode=None if config.network else "none",
                mem_limit=config.memory,
                nano_cpus=int(config.cpus * 1e9),
                pids_limit=config.pids_limit,
                mounts=_ca_mount(config),
                environment=_ca_env(config),
            )
        sandbox = DockerSandbox(
            self.client.api,
            container.id,
            workspace=workspace,
            user=config.user,
            env={**_ca_env(config), **config.env},
            output_limit=config.output_limit,
            base_commit=(image.labels or {}).get(labels.BASE_COMMIT),
            on_close=self.registry.discard,
            persistent_shell=config.persistent_shell,
        )
        self.registry.add(sandbox)
        return sandbox

    def snapshot(self, spec: SnapshotSpec, *, progress: Callable[[str], None] | None = None) -> str:
        """Prepare the repository once and commit it to an image; returns its tag.
        Content-keyed: the same spec at the same commit reuses the image."""
        say = progress or (lambda _msg: None)
        commit = _resolve_commit(spec)
        with translate_docker_errors("inspect the base image"):
            base_id = self.client.images.get(spec.base_image).id
        tag = f"{SNAPSHOT_REPO}:{_snapshot_key(spec, commit, base_id)}"
        if self._image_exists(tag):
            return tag
        say(f"preparing snapshot {tag} at {commit[:12]}")
        build = self.start(
            DockerSandboxConfig(
                image=spec.base_image,
                workspace=spec.workspace,
                network=True,
                ca_bundle=spec.ca_bundle,
                ttl_s=int(spec.setup_timeout_s) + 600,
            ),
            kind="snapshot-build",
        )
        try:
            self._copy_source(build, spec, commit, say)
            for command in spec.setup:
                say(f"setup: {command}")
                result = build.exec(command, timeout=spec.setup_timeout_s)
                if not result.ok:
                    raise SandboxError(
                        f"snapshot setup command failed ({result.exit_code}): {command}\n"
                        f"{result.output[-4000:]}"
                    )
            if spec.user:
                _give_workspace_to(build, spec.user, spec.workspace)
            with translate_docker_errors("commit the snapshot"):
                repository, version = tag.split(":")
                self.client.api.commit(
                    build.container_id,
                    repository=repository,
                    tag=version,
                    conf={
                        "Labels": {
                            labels.MANAGED: "1",
                            labels.KIND: spec.kind,
                            labels.BASE_COMMIT: commit,
                            labels.WORKSPACE: spec.workspace,  # not the base's
                            # The build container's own marks would be inherited by any
                            # container started from the image, by hand too, and the sweep
                            # would take it for a dead run's sandbox: blanked here.
                            **dict.fromkeys(_CONTAINER_ONLY, ""),
                        },
                        "WorkingDir": spec.workspace,
                        # Merged with the base image's: only these variables change.
                        **({"Env": [f"{k}={v}" for k, v in spec.env.items()]}
                           if spec.env else {}),
                    },
                )
        finally:
            build.close()
        return tag

    def close_all(self) -> None:
        self.registry.close_all()

    def _copy_source(
        self,
        build: DockerSandbox,
        spec: SnapshotSpec,
        commit: str,
        say: Callable[[str], None],
    ) -> None:
        # Only committed history up to `commit` enters the image (see sandbox/base_repo.py);
        # a bare mirror works as well as a work tree, and the source is only read.
        say(f"copying {spec.source} at {commit[:12]}, without its future")
        with tempfile.TemporaryDirectory(prefix="quorum-snapshot-") as tmp:
            repo, archive = Path(tmp) / "repo", Path(tmp) / "repo.tar"
            export_base_repo(spec.source, repo, commit, checkout=not spec.git_only)
            with tarfile.open(archive, "w") as tar:
                if spec.git_only:  # the files are there already; a tar would merge .git dirs
                    tar.add(repo / ".git", arcname=".git", filter=_owned_by_root)
                else:
                    tar.add(repo, arcname=".", filter=_owned_by_root)
            workspace = shlex.quote(spec.workspace)
            clear = f"rm -rf {workspace}/.git && " if spec.git_only else ""
            done = build.exec(f"{clear}mkdir -p {workspace}", timeout=600)
            if not done.ok:
                raise SandboxError(f"cannot prepare {spec.workspace} in the snapshot: "
                                   f"{done.output.strip()[-2000:]}")
            with (archive.open("rb") as data,
                  translate_docker_errors("copy the repository into the snapshot")):
                self.client.api.put_archive(build.container_id, spec.workspace, data)

    def _image_exists(self, tag: str) -> bool:
        try:
            self.client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
        return True

    def _labels(self, kind: str, ttl_s: int) -> dict[str, str]:
        owner = current_owner()
        return {
            labels.MANAGED: "1",
            labels.KIND: kind,
            labels.RUN_ID: self.run_id,
            labels.OWNER_PID: owner["pid"],
            labels.OWNER_HOST: owner["host"],
            labels.OWNER_STARTED: owner["started"],
            labels.CREATED_AT: str(int(time.time())),
            labels.TTL_S: str(ttl_s),
        }


def _ca_mount(config: DockerSandboxConfig) -> list[Mount]:
    # A bind *mount*, not `volumes=`: docker-py also declares volumes in the image config,
    # and `docker commit` would bake that into a snapshot, breaking every later start.
    if config.ca_bundle is None:
        return []
    if not config.ca_bundle.is_file():
        raise SandboxError(f"CA bundle {config.ca_bundle} does not exist")
    source = str(config.ca_bundle.resolve())
    return [Mount(CONTAINER_CA_BUNDLE, source, type="bind", read_only=True)]


def _ca_env(config: DockerSandboxConfig) -> dict[str, str]:
    return {name: CONTAINER_CA_BUNDLE for name in _CA_ENV} if config.ca_bundle else {}


def _resolve_commit(spec: SnapshotSpec) -> str:
    """The full sha of `spec.commit`. git itself, not GitPython: GitPython takes a bare git
    directory without a `config` file (a fetched snapshot's layout) for a work tree's."""
    return resolve_commit(spec.source, spec.commit)


def _owned_by_root(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # As a clone made in the container would be; `spec.user` is given the workspace later.
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    return info


def _snapshot_key(spec: SnapshotSpec, commit: str, base_id: str) -> str:
    recipe = {
        "recipe": SNAPSHOT_RECIPE_VERSION,
        "base": base_id,
        "commit": commit,
        "setup": spec.setup,
        "workspace": spec.workspace,
        "user": spec.user,
        **({"git_only": True} if spec.git_only else {}),  # absent: older keys stay valid
        **({"env": spec.env} if spec.env else {}),
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _give_workspace_to(build: DockerSandbox, user: str, workspace: str) -> None:
    script = f"id -u {user} >/dev/null 2>&1 || useradd -m {user}; chown -R {user} {workspace}"
    result = build.exec(script, timeout=600)
    if not result.ok:
        raise SandboxError(f"cannot create user {user}: {result.output.strip()}")
