"""Official SWE-bench instance images: named, pulled and made safe for an agent.

The harness publishes one image per instance (`swebench/sweb.eval.x86_64.<id>:latest`,
`__` spelled `_1776_`) in its own layout: the repository, installed, in /testbed, and a
conda environment `testbed` activated by `source /opt/miniconda3/bin/activate && conda
activate testbed`. Quorum grades and solves in them as they are, after one more layer:
/testbed's `.git` is replaced by the history-free one every sandbox gets
(sandbox/base_repo.py), because images built before the harness pruned history carry the
fix in their `.git` too. The files of /testbed stay as the image has them (build artefacts
included), sandboxes start in /testbed (the snapshot's label says so), and the
environment's bin directory comes first on PATH, so an agent's plain `python` is the
environment's."""

from __future__ import annotations

import contextlib
import re
import shutil
import tarfile
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Literal

import docker
from docker.utils import parse_repository_tag

from envs.errors import TaskSourceError
from sandbox import labels
from sandbox.base_repo import export_base_repo
from sandbox.config import SnapshotSpec
from sandbox.docker_client import translate_docker_errors
from sandbox.errors import QuorumError
from sandbox.owner import current_owner

ImageSource = Literal["official", "build", "auto"]
IMAGE_SOURCES: tuple[ImageSource, ...] = ("official", "build", "auto")
DEFAULT_NAMESPACE = "swebench"  # Docker Hub's, as the harness's --namespace
WORKDIR = "/testbed"
ENV_DIR = "/opt/miniconda3/envs/testbed"
ACTIVATE = "source /opt/miniconda3/bin/activate && conda activate testbed"
BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
GIT = "git -c safe.directory='*'"
# A registry host is the first part only where Docker takes it for one: a dot, a port, or
# localhost (else "MyOrg/x" would pass as host "MyOrg"); the path parts are lowercase.
NAMESPACE = re.compile(r"((localhost|[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+)(:[0-9]+)?/)?"
                       r"[a-z0-9]+([._-][a-z0-9]+)*(/[a-z0-9]+([._-][a-z0-9]+)*)*")


class OfficialImageUnavailable(QuorumError):
    """No official image for this instance could be had (not in the registry, registry
    unreachable, not a SWE-bench instance); `--images auto` builds one instead."""

    def __init__(self, message: str, *, unreachable: bool = False) -> None:
        super().__init__(message)
        self.unreachable = unreachable


def check_namespace(namespace: str) -> str:
    """A registry/namespace Docker accepts: lowercase path parts, an optional host:port."""
    if not NAMESPACE.fullmatch(namespace.rstrip("/")):
        raise QuorumError(f"--image-namespace {namespace!r} is not a registry path Docker "
                          "accepts", hint="lowercase letters, digits, . _ - separated by /, "
                          "optionally after HOST:PORT/, e.g. localhost:5000/swebench")
    return namespace.rstrip("/")


def official_image_ref(instance_id: str, namespace: str = DEFAULT_NAMESPACE) -> str:
    """The harness's name for an instance image (TestSpec.instance_image_key)."""
    key = f"sweb.eval.x86_64.{instance_id.lower()}:latest"
    return f"{namespace.rstrip('/')}/{key}".replace("__", "_1776_")


def pull_official(client: docker.DockerClient, ref: str, say: Callable[[str], None]) -> str:
    """The image's id, pulled unless present. The registry not having it, or not answering,
    raises OfficialImageUnavailable (`auto` builds instead; `unreachable` says which);
    anything else (a rate limit, credentials, a full disk) is an error to act on."""
    with translate_docker_errors(f"look for {ref}"):
        try:
            return client.images.get(ref).id
        except docker.errors.ImageNotFound:
            pass
    repository, tag = parse_repository_tag(ref)
    say(f"pulling {ref}")
    try:
        with translate_docker_errors(f"pull {ref}"):
            try:
                return client.images.pull(repository, tag=tag or "latest").id
            except docker.errors.APIError as exc:
                text = str(exc.explanation or exc)
                kind = _pull_failure(exc.status_code, text)
                if kind is None:
                    raise
                raise OfficialImageUnavailable(f"no official image {ref}: {text}",
                                               unreachable=kind == "unreachable") from exc
    except OfficialImageUnavailable:
        raise
    except QuorumError as exc:
        raise QuorumError(f"cannot pull {ref}: {str(exc).splitlines()[0]}",
                          hint="a rate limit or missing credentials: `docker login`, or "
                          "--images build") from exc


MISSING_SIGNS = ("manifest unknown", "not found", "repository does not exist",
                 "pull access denied")
UNREACHABLE_SIGNS = ("connection refused", "no such host", "i/o timeout", "dial tcp",
                     "tls handshake timeout", "server misbehaving", "network is unreachable",
                     "context deadline exceeded", "temporary failure in name resolution")


def _pull_failure(status: int | None, text: str) -> str | None:
    """'missing', 'unreachable', or None for a failure that is neither."""
    lower = text.lower()
    if "toomanyrequests" in lower or ("unauthorized" in lower and "pull access" not in lower):
        return None
    if status == 404 or any(sign in lower for sign in MISSING_SIGNS):
        return "missing"
    if any(sign in lower for sign in UNREACHABLE_SIGNS):
        return "unreachable"
    return None


def history_free_repo(client: docker.DockerClient, ref: str, commit: str, dest: Path) -> Path:
    """`dest`: the image's /testbed repository at `commit`, without its future, on this
    host (made once; the source of the snapshot's .git and of the task's host repository)."""
    if (dest / ".git").is_dir():
        return dest
    dest.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="quorum-official-", dir=dest.parent) as tmp:
        copied = Path(tmp) / "copied"
        _copy_git_dir(client, ref, copied)
        staged = Path(tmp) / "repo"
        try:
            export_base_repo(copied, staged, commit)
        except QuorumError as exc:
            raise TaskSourceError(f"{ref}: cannot export /testbed at {commit[:12]}: {exc}",
                                  hint="is the image this instance's? (its base commit must "
                                  "be in /testbed's history)") from exc
        shutil.move(str(staged), dest)
    return dest


def snapshot_spec(client: docker.DockerClient, image: str, repo: Path, commit: str, *,
                  ca_bundle: Path | None, setup_timeout_s: float) -> SnapshotSpec:
    """The layer an agent and the grader start from: /testbed's .git history-free, the
    environment first on the image's own PATH."""
    with translate_docker_errors(f"inspect {image}"):
        config = client.images.get(image).attrs.get("Config") or {}
    env = dict(item.split("=", 1) for item in config.get("Env") or [] if "=" in item)
    path = env.get("PATH") or BASE_PATH
    setup = [f"cd {WORKDIR} && {GIT} update-index -q --refresh >/dev/null 2>&1 || true"]
    return SnapshotSpec(base_image=image, source=repo, commit=commit, workspace=WORKDIR,
                        git_only=True, setup=setup,
                        # Ubuntu's images set no locale; tests print and read non-ASCII text
                        env={"PATH": f"{ENV_DIR}/bin:{path}", "LANG": env.get("LANG", "C.UTF-8")},
                        ca_bundle=ca_bundle, setup_timeout_s=setup_timeout_s)


def _copy_git_dir(client: docker.DockerClient, ref: str, dest: Path) -> None:
    """/testbed/.git of the image into `dest/.git`, through a container never started,
    streamed to disk (a large repository's history is hundreds of MB)."""
    owner = current_owner()
    marks = {labels.MANAGED: "1", labels.KIND: "official-copy", labels.OWNER_PID: owner["pid"],
             labels.OWNER_HOST: owner["host"], labels.OWNER_STARTED: owner["started"],
             labels.CREATED_AT: str(int(time.time())), labels.TTL_S: "3600"}  # swept if left
    with translate_docker_errors(f"read /testbed/.git of {ref}"):
        container = client.containers.create(ref, command=["true"], labels=marks)
    try:
        archive = dest.parent / "git.tar"
        try:
            stream, _ = container.get_archive(f"{WORKDIR}/.git")
            with archive.open("wb") as out:
                for chunk in stream:
                    out.write(chunk)
        except docker.errors.NotFound as exc:
            raise TaskSourceError(f"{ref} has no {WORKDIR}/.git: not an image in the "
                                  "SWE-bench layout") from exc
        except docker.errors.APIError as exc:
            raise TaskSourceError(f"cannot copy {WORKDIR}/.git out of {ref}: "
                                  f"{exc.explanation or exc}") from exc
        dest.mkdir(parents=True)
        with tarfile.open(archive) as tar:
            tar.extractall(dest, filter="data")  # no links or paths out of dest
        archive.unlink()
    finally:
        with contextlib.suppress(docker.errors.APIError):  # a leftover is swept later
            container.remove(force=True)
