"""Environment checks behind `quorum doctor`.

Each check is a small function from a `Probe` to a `Check`; `CHECKS` lists them in the order
they print, so adding one is one line. The probe is built once, from the environment passed
in, so no check reads os.environ or connects on its own.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import docker
from pydantic import BaseModel, ConfigDict

from quorum.paths import cache_dir
from sandbox import gc, images
from sandbox.docker_client import connect
from sandbox.errors import QuorumError

LOW_DISK_BYTES = 10 * 1024**3
IMAGES_WARN_GIB = 40.0  # default of $QUORUM_IMAGES_WARN_GIB: a bench leaves a snapshot per instance


class Check(BaseModel):
    """The outcome of one check. A failed `required` check makes `quorum doctor` exit 1."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    ok: bool
    detail: str
    fix: str | None = None
    required: bool = True


@dataclass
class Probe:
    """What the checks look at: the environment, the working directory, and the engine."""

    environ: Mapping[str, str]
    cwd: Path
    _client: docker.DockerClient | None = field(default=None, init=False)
    _engine_error: QuorumError | None = field(default=None, init=False)
    _tried: bool = field(default=False, init=False)

    def docker(self) -> docker.DockerClient | None:
        """A connected client, or None (see `engine_error`). Connects once."""
        if not self._tried:
            self._tried = True
            try:
                self._client = connect(self.environ.get("DOCKER_HOST") or None, timeout=10)
            except QuorumError as exc:
                self._engine_error = exc
        return self._client

    @property
    def engine_error(self) -> QuorumError | None:
        self.docker()
        return self._engine_error

    def close(self) -> None:
        if self._client is not None:
            self._client.close()


def check_engine(probe: Probe) -> Check:
    client = probe.docker()
    if client is None:
        err = probe.engine_error
        reason = str(err).splitlines()[0] if err else "no answer"
        return Check(
            name="Docker engine",
            ok=False,
            detail=reason,
            fix=(err.hint if err and err.hint else "start dockerd or set DOCKER_HOST"),
        )
    version = client.version().get("Version", "?")
    return Check(name="Docker engine", ok=True, detail=f"reachable (server {version})")


def check_base_image(probe: Probe, suite: str) -> Check:
    name = f"base image {suite}"
    tag = images.base_image_tag(suite)
    client = probe.docker()
    if client is None:
        return Check(
            name=name,
            ok=False,
            detail=f"{tag}: unknown, engine unreachable",
            fix="fix the Docker engine first",
        )
    if images.image_present(client, tag):
        return Check(name=name, ok=True, detail=f"{tag} present")
    return Check(
        name=name,
        ok=False,
        detail=f"{tag} missing",
        fix=f"run `quorum images build-base --suite {suite}` (as root) or `make setup`",
    )


def check_disk(probe: Probe) -> Check:
    places = {"working directory": probe.cwd}
    client = probe.docker()
    if client is not None:
        root = Path(client.info().get("DockerRootDir", ""))
        if root.is_dir():  # a remote engine's data root is not on this machine
            places["Docker data root"] = root
    free = {label: shutil.disk_usage(path).free for label, path in places.items()}
    detail = ", ".join(f"{label} {_gib(n)} free" for label, n in free.items())
    low = [label for label, n in free.items() if n < LOW_DISK_BYTES]
    if low:
        return Check(
            name="disk space",
            ok=False,
            detail=f"{detail} (under {_gib(LOW_DISK_BYTES)})",
            fix="free space: `docker system prune`, or move the Docker data root",
            required=False,
        )
    return Check(name="disk space", ok=True, detail=detail, required=False)


def check_images(probe: Probe) -> Check:
    """Snapshots and environment images pile up over bench runs: warn above a size."""
    client = probe.docker()
    if client is None:
        return Check(name="Quorum images", ok=False, detail="unknown, engine unreachable",
                     fix="fix the Docker engine first", required=False)  # fmt: skip
    raw = probe.environ.get("QUORUM_IMAGES_WARN_GIB", "")
    try:
        limit = float(raw) if raw else IMAGES_WARN_GIB
    except ValueError:
        return Check(name="Quorum images", ok=False,
                     detail=f"QUORUM_IMAGES_WARN_GIB={raw!r} is not a number of GiB",
                     fix="set it to a number, e.g. 40", required=False)  # fmt: skip
    usage = gc.image_usage(client)
    detail = f"{usage.count} snapshot/environment image(s), {_gib(usage.own_bytes)} of their own"
    if usage.own_bytes > limit * 1024**3:
        return Check(name="Quorum images", ok=False, detail=f"{detail} (over {limit:g} GiB)",
                     fix="run `quorum images prune --older-than 7d` (add --keep-environments "
                     "to keep the environment images)", required=False)  # fmt: skip
    return Check(name="Quorum images", ok=True, detail=detail, required=False)


def check_model_endpoint(probe: Probe) -> Check:
    url = probe.environ.get("OPENAI_BASE_URL")
    has_key = bool(probe.environ.get("OPENAI_API_KEY"))
    if not url and not has_key:
        return Check(
            name="model endpoint",
            ok=False,
            detail="not yet configured",
            fix="set OPENAI_BASE_URL and OPENAI_API_KEY for an OpenAI-compatible endpoint",
            required=False,
        )
    # The key's value is never shown, only whether it is there.
    where = url or "api.openai.com (OPENAI_BASE_URL unset)"
    key = "API key set" if has_key else "no API key (fine for a local server)"
    return Check(name="model endpoint", ok=True, detail=f"{where}, {key}", required=False)


def check_embedded_model(probe: Probe) -> Check:
    from agent.llm.embedded import llama_cpp_installed
    from agent.llm.embedded_fetch import model_status

    status = model_status(cache_dir(probe.environ))
    if not status.verified:
        return Check(
            name="embedded model",
            ok=False,
            detail=f"{status.path}: {status.detail}",
            fix="run `quorum model fetch` (or `make demo`, which fetches it)",
            required=False,
        )
    if not llama_cpp_installed():
        return Check(
            name="embedded model",
            ok=False,
            detail=f"{status.path} verified, but llama-cpp-python is not installed",
            fix="run `.venv/bin/pip install -e '.[embedded]'` (or `make demo`)",
            required=False,
        )
    return Check(name="embedded model", ok=True, detail=f"{status.path} verified", required=False)


CHECKS: tuple[Callable[[Probe], Check], ...] = (
    check_engine,
    *(functools.partial(check_base_image, suite=suite) for suite in images.SUITES),
    check_disk,
    check_images,
    check_model_endpoint,
    check_embedded_model,
)


def run_checks(probe: Probe) -> list[Check]:
    return [_run_one(check, probe) for check in CHECKS]


def _run_one(check: Callable[[Probe], Check], probe: Probe) -> Check:
    # A check that crashes is itself a finding; it must not hide the lines after it.
    try:
        return check(probe)
    except Exception as exc:
        name = getattr(check, "__name__", None) or getattr(check, "func", check).__name__
        return Check(
            name=name,
            ok=False,
            detail=f"the check crashed: {exc!r}",
            fix="report this as a Quorum bug",
        )


def _gib(n: int) -> str:
    return f"{n / 1024**3:.1f} GiB"
