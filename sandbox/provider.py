"""Provisioning Docker sandboxes: starting containers, preparing snapshots."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import docker
from docker.types import Mount

from sandbox import labels
from sandbox.config import CONTAINER_CA_BUNDLE, DockerSandboxConfig, SnapshotSpec
from sandbox.docker_client import connect, translate_docker_errors
from sandbox.docker_sandbox import DockerSandbox
from sandbox.errors import SandboxError
from sandbox.gc import sweep
from sandbox.owner import current_owner
from sandbox.registry import SandboxRegistry

SNAPSHOT_REPO = "quorum/snapshot"
SNAPSHOT_RECIPE_VERSION = 2  # bump when how snapshots are made changes their content
_SOURCE_MOUNT = "/mnt/quorum-source"
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
            container = self.client.containers.run(
                config.image,
                ["sleep", "infinity"],
                detach=True,
                init=True,  # reaps orphans, forwards signals
                labels=self._labels(kind, config.ttl_s),
                working_dir=config.workspace,
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
            workspace=config.workspace,
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
                            labels.KIND: "snapshot",
                            labels.BASE_COMMIT: commit,
                        },
                        "WorkingDir": spec.workspace,
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
        # Clone from a read-only mount: only committed history enters the image, and a
        # bare mirror works as well as a work tree.
        say(f"copying {spec.source}")
        with translate_docker_errors("copy the repository into the snapshot"):
            helper = self.client.containers.run(
                spec.base_image,
                [
                    "sh",
                    "-c",
                    f"git clone -q --no-checkout {_SOURCE_MOUNT} /out/repo && "
                    f"cd /out/repo && git -c advice.detachedHead=false checkout -q {commit} && "
                    "git remote remove origin",
                ],
                volumes={
                    str(spec.source.resolve()): {"bind": _SOURCE_MOUNT, "mode": "ro"},
                },
                network_mode="none",
                labels=self._labels("snapshot-copy", 3600),
                detach=True,
                environment={
                    "GIT_CONFIG_COUNT": "1",
                    "GIT_CONFIG_KEY_0": "safe.directory",
                    "GIT_CONFIG_VALUE_0": "*",
                },
            )
            try:
                status = helper.wait(timeout=spec.setup_timeout_s)
                if status.get("StatusCode") != 0:
                    raise SandboxError(
                        f"cannot check out {commit} from {spec.source}: "
                        f"{helper.logs().decode(errors='replace')[-2000:]}"
                    )
                archive, _ = helper.get_archive("/out/repo/.")
                parent = spec.workspace
                build.exec(f"mkdir -p {parent}", timeout=60)
                self.client.api.put_archive(build.container_id, parent, archive)
            finally:
                helper.remove(force=True)

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
    cmd = ["git", "-c", "safe.directory=*", "-C", str(spec.source), "rev-parse", "--verify",
           "--quiet", f"{spec.commit}^{{commit}}"]  # fmt: skip
    source = Path(spec.source).resolve()
    env = {**os.environ, "GIT_CEILING_DIRECTORIES": str(source.parent)}  # that folder only
    try:
        result = subprocess.run(cmd, capture_output=True, text=True, timeout=60, check=False,
                                env=env)  # fmt: skip
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise SandboxError(f"cannot find commit {spec.commit} in {spec.source}: {exc}") from exc
    if result.returncode != 0:
        why = result.stderr.strip() or "no such commit"
        raise SandboxError(f"cannot find commit {spec.commit} in {spec.source}: {why}")
    return result.stdout.strip()


def _snapshot_key(spec: SnapshotSpec, commit: str, base_id: str) -> str:
    recipe = {
        "recipe": SNAPSHOT_RECIPE_VERSION,
        "base": base_id,
        "commit": commit,
        "setup": spec.setup,
        "workspace": spec.workspace,
        "user": spec.user,
    }
    return hashlib.sha256(json.dumps(recipe, sort_keys=True).encode()).hexdigest()[:16]


def _give_workspace_to(build: DockerSandbox, user: str, workspace: str) -> None:
    script = f"id -u {user} >/dev/null 2>&1 || useradd -m {user}; chown -R {user} {workspace}"
    result = build.exec(script, timeout=600)
    if not result.ok:
        raise SandboxError(f"cannot create user {user}: {result.output.strip()}")
