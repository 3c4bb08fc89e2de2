"""Logs: JSON lines with --log-json (the real CLI in a subprocess: nothing but JSON objects
on stderr, the progress among them), human-readable lines otherwise, no secret in either."""

from __future__ import annotations

import io
import json
import logging
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from quorum import logs
from quorum.cli import app

ROOT = Path(__file__).resolve().parents[2]
RUN_SMALL = ROOT / "tests" / "fixtures" / "run_small"
API_KEY = "sk-proj-" + "Q7w8E9r0T1y2U3i4O5p6A7s8"
GH_TOKEN = "ghs_" + "Z9y8X7w6V5u4T3s2R1q0P9o8N7m6L5k4J3i2"


@pytest.fixture(autouse=True)
def _restore_logging():
    root = logging.getLogger()
    handlers, level = list(root.handlers), root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def _log_secrets() -> None:
    log = logging.getLogger("quorum.test")
    log.info("calling the model with %s", API_KEY, extra={"token": GH_TOKEN, "step": 3})
    log.warning("push with Authorization: Bearer %s", GH_TOKEN)
    try:
        raise RuntimeError(f"auth failed for {API_KEY}")
    except RuntimeError:
        log.exception("the call failed")


def test_json_lines_carry_fields_and_no_secret() -> None:
    out = io.StringIO()
    logs.configure(json_lines=True, stream=out)
    _log_secrets()
    logging.getLogger("httpx").info("HTTP Request: POST https://example")  # a library's INFO
    text = out.getvalue()
    assert API_KEY not in text and GH_TOKEN not in text
    lines = [json.loads(line) for line in text.splitlines()]
    assert [line["level"] for line in lines] == ["info", "warning", "error"]
    first = lines[0]
    assert set(first) == {"ts", "level", "logger", "message", "token", "step"}
    assert first["logger"] == "quorum.test" and first["step"] == 3
    assert first["message"] == "calling the model with [REDACTED]"
    assert first["token"] == "[REDACTED]" and first["ts"].endswith("Z")
    assert "RuntimeError" in lines[2]["exc"] and "[REDACTED]" in lines[2]["exc"]


def test_human_lines_carry_no_secret() -> None:
    out = io.StringIO()
    logs.configure(json_lines=False, stream=out)
    _log_secrets()
    text = out.getvalue()
    assert API_KEY not in text and GH_TOKEN not in text
    assert "INFO quorum.test: calling the model with [REDACTED]" in text
    assert "Bearer [REDACTED]" in text
    with pytest.raises(json.JSONDecodeError):
        json.loads(text.splitlines()[0])


def test_configure_again_replaces_its_handler() -> None:
    first, second = io.StringIO(), io.StringIO()
    logs.configure(json_lines=True, stream=first)
    logs.configure(json_lines=True, stream=second)
    logging.getLogger("quorum.test").info("once")
    assert first.getvalue() == "" and len(second.getvalue().splitlines()) == 1


def _quorum(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "quorum.cli", *args], cwd=cwd, text=True,
                          capture_output=True, timeout=120, check=False)  # fmt: skip


def test_select_with_log_json_writes_only_json_lines(tmp_path: Path) -> None:
    run = Path(shutil.copytree(RUN_SMALL, tmp_path / "run"))
    # a secret in the run's issue text: the JSON stream must not carry it either
    task = json.loads((run / "task.json").read_text())
    task["id"] = f"task-{API_KEY}"
    (run / "task.json").write_text(json.dumps(task))
    done = _quorum("select", str(run), "--out", str(tmp_path / "out"), "--log-json", cwd=ROOT)
    assert done.returncode == 0, done.stderr
    lines = [json.loads(line) for line in done.stderr.splitlines()]  # every line is JSON
    assert lines and all({"ts", "level", "logger", "message"} <= set(x) for x in lines)
    assert any(x["logger"] == logs.PROGRESS and x["message"].startswith("select: 1 instance")
               for x in lines), lines  # fmt: skip
    assert "# Selection (cascade)" in done.stdout  # stdout keeps the report
    assert API_KEY not in done.stderr



def test_an_error_with_log_json_is_a_json_line(tmp_path: Path) -> None:
    missing = CliRunner().invoke(app, ["select", str(tmp_path / "nowhere.jsonl"), "--log-json"])
    assert missing.exit_code == 1
    errors = [json.loads(line) for line in missing.stderr.splitlines()]
    assert errors and errors[0]["level"] == "error" and errors[0]["message"].startswith("error: ")


def _json_lines(stderr: str) -> list[dict]:
    lines = [json.loads(line) for line in stderr.splitlines()]  # every line is JSON
    assert lines and all({"ts", "level", "logger", "message"} <= set(x) for x in lines)
    return lines


@pytest.mark.parametrize("args", [["select", "nowhere.jsonl", "--bogus", "--log-json"],
                                  ["--bogus", "--log-json", "select"]],
                         ids=["command-option", "group-option"])  # fmt: skip
def test_a_usage_error_with_log_json_is_json_lines(args: list[str], tmp_path: Path) -> None:
    done = _quorum(*args, cwd=tmp_path)
    assert done.returncode == 1 and done.stdout == ""
    lines = _json_lines(done.stderr)
    assert lines[0]["level"] == "error"
    assert lines[0]["message"] == "error: No such option: --bogus" + (
        " (Possible options: --out)" if args[0] == "select" else "")
    assert lines[1]["level"] == "error" and lines[1]["message"].startswith("  hint: see `")
    human = CliRunner().invoke(app, [a for a in args if a != "--log-json"])
    assert human.exit_code == 1 and human.stderr.startswith("error: No such option: --bogus")


def test_an_unexpected_error_is_one_line_or_json_with_its_traceback(tmp_path: Path) -> None:
    """stdout on a full disk (/dev/full): an OSError no command expects, caught at the top."""
    run = Path(shutil.copytree(RUN_SMALL, tmp_path / "run"))
    args = ["select", str(run), "--out", str(tmp_path / "out")]
    for json_lines in (False, True):
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "quorum.cli", *args,
                                   *(["--log-json"] if json_lines else [])], cwd=ROOT,
                                  stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
                                  check=False)  # fmt: skip
        assert done.returncode == 1
        if not json_lines:
            assert done.stderr.splitlines()[-2:] == [
                "error: OSError: [Errno 28] No space left on device",
                "  hint: an unexpected error: a Quorum bug; please report it with the command line"]
            assert "Traceback" not in done.stderr
            continue
        errors = [x for x in _json_lines(done.stderr) if x["level"] == "error"]
        assert [x["message"] for x in errors[:2]] == [
            "error: OSError: [Errno 28] No space left on device",
            "  hint: an unexpected error: a Quorum bug; please report it with the command line"]
        assert errors[2]["logger"] == "quorum.error" and "select_command" in errors[2]["exc"]


def test_a_progress_bar_only_on_a_terminal() -> None:
    from rich.console import Console

    screen, pipe = io.StringIO(), io.StringIO()
    for out, terminal in ((screen, True), (pipe, False)):
        console = Console(file=out, force_terminal=terminal, width=100)
        with logs.progress_bar(console, 3, "instances") as done:
            console.print("[1/3] a: patch", markup=False)
            done(1)
            done(3)
    assert "3/3" in screen.getvalue() and "instances" in screen.getvalue()
    assert pipe.getvalue() == "[1/3] a: patch\n"  # a pipe keeps its plain lines
