"""The Sandbox protocol, run against every backend."""

from __future__ import annotations

import subprocess
import time
import tracemalloc

import pytest

from sandbox.errors import PatchApplyError, PathEscape, SandboxClosed
from sandbox.local import LocalSandbox
from sandbox.protocol import DEFAULT_OUTPUT_LIMIT, Sandbox
from sandbox.result import TRUNCATION_MARKER


def test_is_a_sandbox(sandbox: Sandbox) -> None:
    assert isinstance(sandbox, Sandbox)


def test_exec_reports_streams_exit_code_env_and_workdir(sandbox: Sandbox) -> None:
    result = sandbox.exec("echo out; echo err >&2; exit 3", timeout=30)
    assert (result.exit_code, result.stdout, result.stderr) == (3, "out\n", "err\n")
    assert not result.timed_out and not result.truncated and not result.ok
    assert sandbox.exec("echo $GREETING", timeout=30, env={"GREETING": "hi"}).stdout == "hi\n"
    assert sandbox.exec("pwd", timeout=30, workdir="pkg").stdout.strip().endswith("/pkg")
    with pytest.raises(PathEscape):
        sandbox.exec("pwd", timeout=30, workdir="../..")


def test_non_ascii_commands_and_output(sandbox: Sandbox) -> None:
    result = sandbox.exec("echo 'héllo wörld ✓'; echo $LC_ALL", timeout=30)
    assert result.stdout == "héllo wörld ✓\n\n"
    assert sandbox.exec("printf 'caf\\xc3\\xa9'", timeout=30).stdout == "café"


def test_commands_follow_one_another_cleanly(sandbox: Sandbox) -> None:
    for i in range(20):
        result = sandbox.exec(f"echo {i}; echo e{i} >&2; exit {i % 3}", timeout=30)
        assert (result.stdout, result.stderr, result.exit_code) == (f"{i}\n", f"e{i}\n", i % 3)
    assert sandbox.exec("sleep 30", timeout=1).timed_out
    assert sandbox.exec("echo after-timeout", timeout=30).stdout == "after-timeout\n"


def _leftovers(sandbox: Sandbox) -> str:
    # The bracket keeps grep from matching its own command line.
    probe = "ps -eo args | grep -E 'sleep 61[23]' || true"
    if isinstance(sandbox, LocalSandbox):
        return subprocess.run(probe, shell=True, capture_output=True, text=True).stdout
    return sandbox.exec(probe, timeout=30).stdout


def test_timeout_is_hard_and_kills_every_process(sandbox: Sandbox) -> None:
    start = time.monotonic()
    result = sandbox.exec("sleep 612 & sleep 613", timeout=2)
    assert time.monotonic() - start < 3
    assert result.timed_out and not result.ok
    assert _leftovers(sandbox) == ""


def test_output_is_bounded_without_holding_it(sandbox: Sandbox) -> None:
    tracemalloc.start()
    try:
        result = sandbox.exec("yes | head -c 200M", timeout=120)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.truncated and not result.timed_out and result.exit_code == 0
    marker = TRUNCATION_MARKER.split("{")[0]
    assert marker in result.stdout
    assert len(result.stdout) <= DEFAULT_OUTPUT_LIMIT + 200
    assert result.stdout.startswith("y\ny\n") and result.stdout.endswith("y\ny\n")
    assert peak < 40 * 1024 * 1024, f"client held {peak / 1e6:.0f} MB"


def test_files_round_trip_binary_safe(sandbox: Sandbox) -> None:
    payload = bytes(range(256)) * 100
    sandbox.write_file("data/blob.bin", payload)
    assert sandbox.read_file("data/blob.bin") == payload
    sandbox.write_file("notes.txt", "héllo\n")
    assert sandbox.read_file("notes.txt").decode() == "héllo\n"
    assert sandbox.exec("wc -c < data/blob.bin", timeout=30).stdout.strip() == "25600"


@pytest.mark.parametrize("path", ["../outside.txt", "/etc/passwd", "pkg/../../x", "link/passwd"])
def test_paths_outside_the_workspace_are_refused(sandbox: Sandbox, path: str) -> None:
    assert sandbox.exec("ln -s /etc link", timeout=30).ok
    with pytest.raises(PathEscape):
        sandbox.read_file(path)
    with pytest.raises(PathEscape):
        sandbox.write_file(path, b"x")


def test_diff_covers_edits_and_new_files(sandbox: Sandbox) -> None:
    assert sandbox.diff() == ""
    sandbox.write_file("pkg/calc.py", "def add(a, b):\n    return a + b\n")
    sandbox.write_file("tests/test_calc.py", "from pkg.calc import add\n")
    diff = sandbox.diff()
    assert "-    return a - b\n+    return a + b" in diff
    assert "new file mode" in diff and "b/tests/test_calc.py" in diff
    # diff leaves the sandbox's own index alone
    assert sandbox.exec("git status --porcelain", timeout=30).stdout.count("??") == 1


def test_diff_leaves_out_bytecode_and_caches(sandbox: Sandbox) -> None:
    for junk in ("pkg/__pycache__/calc.cpython-311.pyc", "top.pyc", ".pytest_cache/v/x"):
        sandbox.write_file(junk, b"\x00junk")
    sandbox.write_file("pkg/calc.py", "def add(a, b):\n    return a + b\n")
    diff = sandbox.diff()
    assert "pkg/calc.py" in diff
    assert "__pycache__" not in diff and ".pyc" not in diff


def test_diff_sees_a_same_size_edit_made_right_after_checkout(sandbox: Sandbox) -> None:
    # Same size, same second as the index was written: only a content check can see it.
    assert sandbox.exec("git checkout -q -f HEAD~0 && git update-index --refresh -q", timeout=30).ok
    sandbox.write_file("pkg/calc.py", "def add(a, b):\n    return b + a\n")
    time.sleep(1.1)  # the diff happens in a later second than the edit
    assert "+    return b + a" in sandbox.diff()


def test_patch_from_one_sandbox_applies_to_another(sandbox: Sandbox, repo) -> None:
    sandbox.write_file("pkg/calc.py", "def add(a, b):\n    return a + b\n")
    sandbox.write_file("new.txt", "new\n")
    patch = sandbox.diff()
    with LocalSandbox(repo, warn=False) as other:
        other.apply_patch(patch)
        assert other.read_file("pkg/calc.py").endswith(b"a + b\n")
        assert other.diff() == patch


def test_bad_patch_says_why(sandbox: Sandbox) -> None:
    stale = (
        "--- a/pkg/calc.py\n+++ b/pkg/calc.py\n@@ -1,2 +1,2 @@\n"
        " def mul(a, b):\n-    return a / b\n+    return a * b\n"
    )
    with pytest.raises(PatchApplyError, match="does not apply"):
        sandbox.apply_patch(stale)
    with pytest.raises(PatchApplyError, match="empty"):
        sandbox.apply_patch("")
    assert sandbox.diff() == ""


def test_closed_sandbox_refuses_work(sandbox: Sandbox) -> None:
    sandbox.close()
    with pytest.raises(SandboxClosed):
        sandbox.exec("true", timeout=5)


def test_local_commands_never_see_host_credentials(tmp_path, monkeypatch) -> None:
    """The local backend runs on the host: an agent's `env` must not show the host's keys."""
    monkeypatch.setenv("OPENAI_API_KEY", "sk-host-secret-1")
    monkeypatch.setenv("QUORUM_WEBHOOK_SECRET", "hook-secret-2")
    monkeypatch.setenv("SOME_SERVICE_TOKEN", "tok-3")
    monkeypatch.setenv("QUORUM_HARMLESS_SETTING", "kept")
    repo = tmp_path / "repo"
    repo.mkdir()
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    with LocalSandbox(repo, warn=False) as box:
        shown = box.exec("env", timeout=30).stdout
    assert "QUORUM_HARMLESS_SETTING=kept" in shown and "PATH=" in shown
    for secret in ("sk-host-secret-1", "hook-secret-2", "tok-3"):
        assert secret not in shown
