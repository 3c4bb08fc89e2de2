"""Configuration of Docker sandboxes and snapshots."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from sandbox.errors import SandboxError
from sandbox.protocol import DEFAULT_OUTPUT_LIMIT

HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
CONTAINER_CA_BUNDLE = "/etc/ssl/certs/ca-certificates.crt"
CA_BUNDLE_ENV = "QUORUM_CA_BUNDLE"


def default_ca_bundle(environ: Mapping[str, str] = os.environ) -> Path | None:
    """The CA bundle mounted into sandboxes so pip can reach PyPI: $QUORUM_CA_BUNDLE (a
    corporate proxy's bundle, say), else the host's system bundle where there is one."""
    configured = environ.get(CA_BUNDLE_ENV)
    if configured:
        path = Path(configured).expanduser()
        if not path.is_file():
            raise SandboxError(f"${CA_BUNDLE_ENV} names {path}, which is not a file",
                               hint="point it at a PEM bundle, or unset it to use the host's")
        return path
    return HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None


class DockerSandboxConfig(BaseModel):
    """How one Docker sandbox is started."""

    model_config = ConfigDict(extra="forbid")

    image: str = Field(description="image to start from: a base image or a snapshot")
    workspace: str = Field("/workspace", description="the repository's path in the container")
    memory: str = Field("4g", description="memory limit (docker syntax: 512m, 4g)")
    cpus: float = Field(2.0, gt=0, description="CPU limit in cores")
    pids_limit: int = Field(1024, gt=0, description="most processes at once (fork bombs)")
    network: bool = Field(False, description="network access; off unless installing")
    user: str | None = Field(None, description="run commands as this user instead of root")
    ca_bundle: Path | None = Field(
        None, description="host CA bundle mounted read-only, for corporate proxies and PyPI"
    )
    env: dict[str, str] = Field(default_factory=dict, description="environment of every exec")
    ttl_s: int = Field(6 * 3600, gt=0, description="after this, `quorum sandbox gc` removes it")
    output_limit: int = Field(DEFAULT_OUTPUT_LIMIT, gt=0, description="bytes kept per stream")
    persistent_shell: bool = Field(
        True, description="run commands through one attached shell (ms) instead of docker exec"
    )


class SnapshotSpec(BaseModel):
    """A repository prepared once and committed to an image that sandboxes start from."""

    model_config = ConfigDict(extra="forbid")

    base_image: str
    source: Path = Field(description="a git repository on the host (work tree or bare)")
    commit: str = Field("HEAD", description="commit to check out in the workspace")
    setup: list[str] = Field(default_factory=list, description="shell commands, network on")
    workspace: str = "/workspace"
    user: str | None = Field(None, description="create this user and give it the workspace")
    ca_bundle: Path | None = None
    setup_timeout_s: float = Field(1800, gt=0)
    git_only: bool = Field(
        False,
        description="replace only the workspace's .git with the history-free one and leave "
        "its files as they are: for an image that already holds the repository, installed "
        "(an official SWE-bench image's /testbed and its build artefacts)",
    )
    env: dict[str, str] = Field(
        default_factory=dict, description="environment variables the image keeps (PATH...)")
    kind: Literal["snapshot", "environment"] = Field(
        "snapshot",
        description="its label: an instance snapshot, or an environment image that snapshots "
        "start from (`quorum images prune --keep-environments` keeps those); not in the key",
    )
