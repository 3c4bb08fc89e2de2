"""The embedded server's lifecycle, without the model.

A stand-in `llama_cpp.server` package (put first on the child's PYTHONPATH) answers
`/v1/models`, crashes, or ignores SIGTERM as the model file tells it to, so start, readiness,
failure reports and cleanup are tested in a second; the real server is tried on a bogus
model file where llama-cpp-python is installed.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import httpx
import pytest

from agent.llm.embedded import (
    EMBEDDED_HINT,
    EmbeddedServer,
    EmbeddedServerError,
    llama_cpp_installed,
)

FAKE_SERVER = textwrap.dedent(
    """
    import argparse, http.server, json, signal, sys, time

    p = argparse.ArgumentParser()
    for name in ("model", "model_alias", "host", "port"):
        p.add_argument("--" + name)
    args, _ = p.parse_known_args()
    kind = open(args.model, "rb").read()
    print("fake llama_cpp.server starting", flush=True)
    if kind.startswith(b"crash"):
        print("gguf_init_from_file: invalid magic characters 'cras'", flush=True)
        sys.exit(1)
    if kind.startswith(b"stubborn"):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        while True:
            time.sleep(1)

    class H(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            body = json.dumps({"object": "list", "data": [{"id": args.model_alias}]}).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *a):
            pass

    http.server.HTTPServer((args.host, int(args.port)), H).serve_forever()
    """
)


@pytest.fixture
def fake_llama(tmp_path: Path) -> dict[str, str]:
    pkg = tmp_path / "fakepath" / "llama_cpp" / "server"
    pkg.mkdir(parents=True)
    (pkg.parent / "__init__.py").write_text("")
    (pkg / "__init__.py").write_text("")
    (pkg / "__main__.py").write_text(FAKE_SERVER)
    return {"PYTHONPATH": str(tmp_path / "fakepath")}


def model(tmp_path: Path, content: bytes) -> Path:
    path = tmp_path / "model.gguf"
    path.write_bytes(content)
    return path


def gone(pid: int | None, wait: float = 0.0) -> bool:
    """The process no longer runs (a zombie awaiting its reaper counts as gone)."""
    assert pid is not None
    deadline = time.monotonic() + wait
    while True:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (FileNotFoundError, ProcessLookupError):
            return True
        if state == "Z":
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.1)


def test_serves_until_the_block_ends(tmp_path: Path, fake_llama: dict[str, str]) -> None:
    server = EmbeddedServer(model(tmp_path, b"ok"), env=fake_llama, model_name="m")
    with server:
        pid = server.pid
        assert server.running and server.base_url.startswith("http://127.0.0.1:")
        listed = httpx.get(f"{server.base_url}/models").json()
        assert listed["data"][0]["id"] == server.model_name == "m"
        log = server.log_path
    assert gone(pid) and not server.running
    assert not log.exists()


def test_stopped_when_the_block_raises(tmp_path: Path, fake_llama: dict[str, str]) -> None:
    server = EmbeddedServer(model(tmp_path, b"ok"), env=fake_llama)
    with pytest.raises(RuntimeError), server:
        pid = server.pid
        raise RuntimeError("boom")
    assert gone(pid)


def test_a_crash_while_starting_shows_the_log_tail(
    tmp_path: Path, fake_llama: dict[str, str]
) -> None:
    server = EmbeddedServer(model(tmp_path, b"crash"), env=fake_llama,
                            log_path=tmp_path / "server.log")
    with pytest.raises(EmbeddedServerError, match="exited with code 1") as ei:
        server.start()
    assert "invalid magic characters" in str(ei.value)
    assert ei.value.hint and "quorum model status" in ei.value.hint
    assert not server.running


def test_a_server_that_never_answers_is_killed(
    tmp_path: Path, fake_llama: dict[str, str]
) -> None:
    server = EmbeddedServer(model(tmp_path, b"stubborn"), env=fake_llama, startup_timeout=1.5,
                            log_path=tmp_path / "server.log",
                            stop_grace=0.5)
    with pytest.raises(EmbeddedServerError, match=r"did not answer .* within 2s") as ei, server:
        pass
    assert "fake llama_cpp.server starting" in str(ei.value)
    assert server.pid is None  # stopped: SIGTERM was ignored, so it was killed


def test_missing_llama_cpp_says_how_to_install(tmp_path: Path) -> None:
    server = EmbeddedServer(model(tmp_path, b"ok"), python=_python_without_llama(tmp_path),
                            log_path=tmp_path / "server.log")
    with pytest.raises(EmbeddedServerError, match="No module named") as ei:
        server.start()
    assert ei.value.hint == EMBEDDED_HINT


def test_a_missing_model_file_names_the_fix(tmp_path: Path) -> None:
    with pytest.raises(EmbeddedServerError, match="does not exist") as ei:
        EmbeddedServer(tmp_path / "absent.gguf").start()
    assert ei.value.hint == "run `quorum model fetch`"


def test_the_real_server_rejects_a_bogus_model_file(tmp_path: Path) -> None:
    assert llama_cpp_installed(), "llama-cpp-python is not installed: run `make setup`"
    server = EmbeddedServer(model(tmp_path, b"GGUF" + b"\0" * 64), n_ctx=256,
                            log_path=tmp_path / "server.log")
    with pytest.raises(EmbeddedServerError, match="exited with code") as ei:
        server.start()
    assert "model" in str(ei.value).lower() and not server.running


def _python_without_llama(tmp_path: Path) -> str:
    """A python that cannot import llama_cpp: the venv's interpreter in isolated mode."""
    wrapper = tmp_path / "python-isolated"
    wrapper.write_text(f'#!/bin/sh\nexec "{os.path.realpath(sys.executable)}" -I -S "$@"\n')
    wrapper.chmod(0o755)
    return str(wrapper)


PARENT = """
import sys
from pathlib import Path
from agent.llm.embedded import EmbeddedServer
server = EmbeddedServer(Path(sys.argv[1]), env={"PYTHONPATH": sys.argv[2]},
                        log_path=Path(sys.argv[1]).with_suffix(".log")).start()
print(server.pid, flush=True)
sys.stdin.read()
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_the_server_dies_with_a_killed_parent(tmp_path: Path, fake_llama: dict[str, str]) -> None:
    parent = subprocess.Popen(
        [sys.executable, "-c", PARENT, str(model(tmp_path, b"ok")), fake_llama["PYTHONPATH"]],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )
    try:
        assert parent.stdout is not None
        pid = int(parent.stdout.readline())
        assert not gone(pid)
        parent.send_signal(signal.SIGKILL)  # no finally, no atexit
        parent.wait()
        assert gone(pid, wait=10)
    finally:
        parent.kill()
        parent.wait()


def test_a_taken_port_is_refused_before_starting(tmp_path: Path) -> None:
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        with pytest.raises(EmbeddedServerError, match=f"port {port} on 127.0.0.1 is already"):
            EmbeddedServer(model(tmp_path, b"ok"), port=port).start()


def test_logprobs_and_the_ram_prompt_cache_are_never_both_on(tmp_path: Path) -> None:
    """llama-cpp-python copies every position's logits into each cached state, uncounted:
    with both on, a solve run grew one server past 23 GB."""
    path = tmp_path / "m.gguf"
    path.write_bytes(b"GGUF")
    verifier = EmbeddedServer(path, logits_all=True, prompt_cache=True).command()
    solver = EmbeddedServer(path, logits_all=False, prompt_cache=True).command()
    assert verifier[verifier.index("--logits_all") + 1] == "true" and "--cache" not in verifier
    assert solver[solver.index("--logits_all") + 1] == "false"
    assert solver[solver.index("--cache") + 1] == "true"
