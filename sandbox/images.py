"""Debian Python base images, built without a registry.

A base image is a Debian rootfs made by `debootstrap`, trimmed, and turned into an image by
`docker import`. Its tag is a hash of the recipe (suite, packages, recipe version), so a
present tag means the right content is already there and nothing is built; a changed recipe
gets a new tag instead of silently reusing an old image.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path

import docker
import docker.errors
from pydantic import BaseModel, ConfigDict

from sandbox import labels
from sandbox.docker_client import translate_docker_errors
from sandbox.errors import SandboxError

# Bump when the build steps below change in a way that changes the image's content.
RECIPE_VERSION = 1
REPOSITORY = "quorum/base"
SUITE_LABEL = "ai.quorum.base-suite"
DEFAULT_MIRROR = "http://deb.debian.org/debian"
SUITES: dict[str, str] = {"bookworm": "3.11", "bullseye": "3.9"}  # suite -> its python3
# A C toolchain and the Python headers, as the SWE-bench harness's base image has
# (build-essential): old pins and some test requirements have no wheel for the bases'
# Pythons and build from source (Django's pywatchman, astropy's extensions).
PACKAGES = (
    "ca-certificates",
    "g++",
    "gcc",
    "git",
    "libc6-dev",
    "make",
    "patch",
    "procps",
    "python3",
    "python3-dev",
    "python3-pip",
    "python3-venv",
    "util-linux",
)
# Trimmed before import to keep the image small: apt's package lists and caches (files only;
# apt expects the directories; `apt-get update` restores the lists when a task needs apt), and
# docs nobody reads in a sandbox.
TRIM_FILES = ("var/lib/apt/lists", "var/cache/apt")
TRIM_DIRS = ("usr/share/man", "usr/share/info", "usr/share/doc")
CHANGES = (
    "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
    "ENV LANG=C.UTF-8",
    "ENV PIP_DISABLE_PIP_VERSION_CHECK=1",
    "WORKDIR /workspace",
    'CMD ["/bin/bash"]',
)

Progress = Callable[[str], None]
_PHASE = re.compile(r"^(I: .*(\.\.\.|successfully\.)|[WE]: .*)$")
_PER_PACKAGE = re.compile(r"^I: \w+ \S+\.\.\.$")  # "I: Extracting libc6..."


class ImageBuildError(SandboxError):
    """A base image could not be built (or pulled)."""


class BaseRecipe(BaseModel):
    """Everything that determines a base image's content; its hash is the image's tag."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    suite: str
    packages: tuple[str, ...] = PACKAGES
    variant: str = "minbase"
    version: int = RECIPE_VERSION

    @property
    def content_key(self) -> str:
        canonical = self.model_copy(update={"packages": tuple(sorted(set(self.packages)))})
        return hashlib.sha256(canonical.model_dump_json().encode()).hexdigest()

    @property
    def tag(self) -> str:
        return f"{REPOSITORY}:{self.suite}-{self.content_key[:12]}"


def recipe(suite: str = "bookworm") -> BaseRecipe:
    if suite not in SUITES:
        raise ImageBuildError(
            f"unknown base image suite {suite!r}", hint=f"choose one of: {', '.join(SUITES)}"
        )
    return BaseRecipe(suite=suite)


def base_image_tag(suite: str = "bookworm") -> str:
    return recipe(suite).tag


def image_present(client: docker.DockerClient, tag: str) -> bool:
    with translate_docker_errors(f"looking up image {tag}"):
        try:
            client.images.get(tag)
        except docker.errors.ImageNotFound:
            return False
    return True


def base_image_present(client: docker.DockerClient, suite: str = "bookworm") -> bool:
    return image_present(client, base_image_tag(suite))


def ensure_base_image(
    client: docker.DockerClient,
    suite: str = "bookworm",
    *,
    progress: Progress | None = None,
    mirror: str | None = None,
    pull_from: str | None = None,
    tmp_dir: str | None = None,
) -> str:
    """The tag of the base image for `suite`, building it first when it is absent.

    `pull_from` names a registry repository (e.g. `registry.local/quorum/base`) tried before
    building; only an image carrying the same content key is accepted from it.
    """
    return ensure_image(
        client,
        recipe(suite),
        progress=progress,
        mirror=mirror,
        pull_from=pull_from,
        tmp_dir=tmp_dir,
    )


def ensure_image(
    client: docker.DockerClient,
    spec: BaseRecipe,
    *,
    progress: Progress | None = None,
    mirror: str | None = None,
    pull_from: str | None = None,
    tmp_dir: str | None = None,
) -> str:
    say = progress or (lambda _msg: None)
    if image_present(client, spec.tag):
        return spec.tag
    # Two processes asking for the same image must not both spend a minute building it.
    with _build_lock(spec.tag):
        if image_present(client, spec.tag):
            say(f"{spec.tag}: built meanwhile by another process")
            return spec.tag
        if pull_from and _try_pull(client, spec, pull_from, say):
            return spec.tag
        build_image(client, spec, mirror=mirror or debian_mirror(), tmp_dir=tmp_dir, progress=say)
    return spec.tag


def debian_mirror(sources_dir: str = "/etc/apt") -> str:
    """The host's Debian mirror (deb822 or one-line sources), or deb.debian.org."""
    root = Path(sources_dir)
    for path in [*sorted(root.glob("sources.list.d/*.sources")), root / "sources.list"]:
        with contextlib.suppress(OSError):
            for line in path.read_text().splitlines():
                m = re.match(r"\s*(?:URIs:|deb)\s+(?:\[[^\]]*\]\s+)?(\S+)", line)
                if m and m.group(1).rstrip("/").endswith("/debian"):
                    return m.group(1).rstrip("/")
    return DEFAULT_MIRROR


def _try_pull(client: docker.DockerClient, spec: BaseRecipe, repo: str, say: Progress) -> bool:
    remote = f"{repo}:{spec.tag.split(':', 1)[1]}"
    say(f"{spec.tag}: pulling {remote}")
    try:
        image = client.images.pull(remote)
    except docker.errors.APIError as exc:
        say(f"{spec.tag}: pull failed ({exc.explanation or exc}); building instead")
        return False
    if (image.labels or {}).get(labels.CONTENT_KEY) != spec.content_key:
        raise ImageBuildError(
            f"{remote} does not carry content key {spec.content_key[:12]}",
            hint="push an image built by `quorum images build-base` from the same recipe",
        )
    image.tag(REPOSITORY, spec.tag.split(":", 1)[1])
    return True


def build_image(
    client: docker.DockerClient,
    spec: BaseRecipe,
    *,
    mirror: str | None = None,
    tmp_dir: str | None = None,
    progress: Progress | None = None,
) -> None:
    """Build `spec` and tag it, replacing nothing: callers check presence first."""
    say = progress or (lambda _msg: None)
    mirror = mirror or debian_mirror()
    if shutil.which("debootstrap") is None:
        raise ImageBuildError(
            f"cannot build {spec.tag}: debootstrap is not installed",
            hint="install it (as root: `apt-get install -y debootstrap`) or run `make setup`",
        )
    if os.geteuid() != 0:
        raise ImageBuildError(
            f"cannot build {spec.tag}: debootstrap needs root",
            hint="run `sudo .venv/bin/quorum images build-base`, or `make setup` as root",
        )
    _probe_mirror(mirror, spec.suite)
    started = time.monotonic()
    # /var/tmp by default: /tmp is often a small tmpfs (or noexec, which breaks the chroot).
    where = tmp_dir or os.environ.get("TMPDIR") or "/var/tmp"
    rootfs = Path(tempfile.mkdtemp(prefix=f"quorum-rootfs-{spec.suite}-", dir=where))
    try:
        say(f"{spec.tag}: debootstrap {spec.suite} from {mirror}")
        _debootstrap(spec, rootfs, mirror, say)
        _finish_rootfs(rootfs)
        say(f"{spec.tag}: importing into Docker")
        _import(client, spec, rootfs)
    finally:
        _remove_rootfs(rootfs)
    say(f"{spec.tag}: built in {time.monotonic() - started:.0f}s")


def _probe_mirror(mirror: str, suite: str) -> None:
    url = f"{mirror}/dists/{suite}/Release"
    try:
        with urllib.request.urlopen(urllib.request.Request(url, method="HEAD"), timeout=15):
            pass
    except (urllib.error.URLError, OSError) as exc:
        raise ImageBuildError(
            f"the Debian mirror does not answer: {url}: {exc}",
            hint="check the network, or pass a reachable mirror with --mirror URL",
        ) from exc


def _debootstrap(spec: BaseRecipe, rootfs: Path, mirror: str, say: Progress) -> None:
    cmd = [
        "debootstrap",
        f"--variant={spec.variant}",
        f"--include={','.join(spec.packages)}",
        spec.suite,
        str(rootfs),
        mirror,
    ]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "LC_ALL": "C"}
    tail: list[str] = []
    with subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    ) as proc:
        assert proc.stdout is not None
        for line in proc.stdout:
            line = line.rstrip()
            tail = [*tail[-29:], line]
            # Only the phases and problems; the per-package lines would drown the terminal.
            if _PHASE.match(line) and not _PER_PACKAGE.match(line):
                say(f"{spec.tag}: {line}")
    if proc.returncode != 0:
        text = "\n".join(tail)
        hint = "see the debootstrap output above; a rerun retries from scratch"
        if "Failed getting release file" in text or "Couldn't download" in text:
            hint = "the mirror failed mid-download; check the network or pass --mirror URL"
        elif "No space left" in text:
            hint = "free disk space in the temp directory (or set TMPDIR elsewhere)"
        raise ImageBuildError(f"debootstrap {spec.suite} failed:\n{text}", hint=hint)


def _finish_rootfs(rootfs: Path) -> None:
    for rel in TRIM_FILES:
        for path in (rootfs / rel).rglob("*"):
            if path.is_file() or path.is_symlink():
                path.unlink()
    for rel in TRIM_DIRS:
        if (rootfs / rel).is_dir():
            shutil.rmtree(rootfs / rel)
    python = rootfs / "usr/bin/python"
    if not python.exists():
        python.symlink_to("python3")
    # Sandboxes are disposable: let `pip install` work without a venv (PEP 668 marker).
    for marker in rootfs.glob("usr/lib/python3*/EXTERNALLY-MANAGED"):
        marker.unlink()
    (rootfs / "workspace").mkdir(exist_ok=True)


def _import(client: docker.DockerClient, spec: BaseRecipe, rootfs: Path) -> None:
    changes = [
        *CHANGES,
        f"LABEL {labels.MANAGED}=1",
        f"LABEL {labels.KIND}=base-image",
        f"LABEL {labels.CONTENT_KEY}={spec.content_key}",
        f"LABEL {SUITE_LABEL}={spec.suite}",
    ]
    repo, tag = spec.tag.split(":", 1)
    tar = subprocess.Popen(
        ["tar", "-C", str(rootfs), "--numeric-owner", "-cf", "-", "."],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert tar.stdout is not None and tar.stderr is not None
    try:
        with translate_docker_errors(f"importing {spec.tag}"):
            client.api.import_image_from_data(
                _chunks(tar.stdout), repository=repo, tag=tag, changes=changes
            )
    finally:
        tar.stdout.close()
        err = tar.stderr.read().decode(errors="replace")
        tar.stderr.close()
        code = tar.wait()
    if code != 0:
        with contextlib.suppress(docker.errors.APIError):
            client.images.remove(spec.tag, force=True)  # a truncated import is not the image
        raise ImageBuildError(f"tar of the rootfs failed: {err.strip()}")


def _chunks(stream, size: int = 1 << 20) -> Iterator[bytes]:
    while chunk := stream.read(size):
        yield chunk


def _remove_rootfs(rootfs: Path) -> None:
    # debootstrap can leave /proc or /sys mounted in the target when it fails; deleting
    # through a live mount would reach into the host, so unmount first and refuse otherwise.
    for mount in sorted(_mounts_under(rootfs), reverse=True):
        subprocess.run(["umount", "-l", mount], check=False, capture_output=True)
    if _mounts_under(rootfs):
        raise ImageBuildError(f"{rootfs} still has mounts; left in place", hint="umount them")
    shutil.rmtree(rootfs, ignore_errors=True)


def _mounts_under(root: Path) -> list[str]:
    prefix = str(root.resolve()) + "/"
    with open("/proc/mounts") as f:
        points = [line.split()[1].replace("\\040", " ") for line in f]
    return [p for p in points if p.startswith(prefix)]


@contextlib.contextmanager
def _build_lock(tag: str) -> Iterator[None]:
    name = re.sub(r"[^A-Za-z0-9_.-]", "_", tag)
    path = Path(tempfile.gettempdir()) / f"quorum-build-{name}.lock"
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield
