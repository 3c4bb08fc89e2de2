"""`quorum show RUN_DIR`: driven in a real pseudo-terminal (the installed `quorum` entry point,
TERM=xterm-256color, 100 columns) on a copy of tests/fixtures/run_small, its screen read back
with the escape sequences stripped."""

from __future__ import annotations

import fcntl
import io
import json
import os
import re
import select
import shutil
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from rich.console import Console
from typer.testing import CliRunner

from agent.trajectory import ExitRecord, Trajectory, TrajectorySpec
from envs.candidate import Candidate, ReproTest, TestOutcome
from quorum.cli import app
from quorum.live import SolveView
from quorum.report import build_view
from tests.helpers.allocated_run import CANCELLED, STOP, allocated

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "run_small"
COLUMNS, LINES = 100, 50
WAIT_S = 30.0  # the longest any screen may take to appear; polls are 0.05 s
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\x1b[()][A-Z0-9]|\x1b[=>]")


@pytest.fixture
def run(tmp_path: Path) -> Path:
    return Path(shutil.copytree(FIXTURE, tmp_path / "run_small"))


def _quorum() -> list[str]:
    script = Path(sys.executable).parent / "quorum"
    return [str(script)] if script.exists() else [sys.executable, "-m", "quorum.cli"]


def _as_a_foreground_job() -> None:
    """Ctrl-C's disposition as a shell's foreground job has it. A test run started in the
    background (`cmd &` without job control) inherits SIGINT ignored, and Python then keeps
    it ignored, so the Ctrl-C test would hang there though `quorum show` is right."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


class Terminal:
    """`quorum ARGS` with a pseudo-terminal as its stdin, stdout and stderr."""

    def __init__(self, *args: str) -> None:
        master, slave = os.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", LINES, COLUMNS, 0, 0))
        env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": str(COLUMNS),
               "LINES": str(LINES)}  # fmt: skip
        for name in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
            env.pop(name, None)
        self.proc = subprocess.Popen(
            [*_quorum(), *args], stdin=slave, stdout=slave, stderr=slave, env=env, close_fds=True,
            preexec_fn=_as_a_foreground_job,
        )
        os.close(slave)
        self.master = master
        self.raw = b""

    @property
    def screen(self) -> str:
        return ANSI.sub("", self.raw.decode(errors="replace")).replace("\r", "")

    def _read(self, timeout: float) -> bool:
        ready, _, _ = select.select([self.master], [], [], timeout)
        if not ready:
            return True
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed its side
            return False
        self.raw += chunk
        return bool(chunk)

    def wait_for(self, seen: Callable[[str], bool], what: str) -> str:
        deadline = time.monotonic() + WAIT_S
        while not seen(self.screen):
            if time.monotonic() > deadline:
                raise AssertionError(f"never saw {what}; the screen:\n{self.screen}")
            exited = not self._read(0.05) and self.proc.poll() is not None
            if exited and not seen(self.screen):
                raise AssertionError(f"exited before {what}; the screen:\n{self.screen}")
        return self.screen

    def finish(self) -> int:
        """Read to the end; the exit code."""
        deadline = time.monotonic() + WAIT_S
        while self._read(0.05) or self.proc.poll() is None:
            if time.monotonic() > deadline:
                self.proc.kill()
                raise AssertionError(f"quorum show did not exit; the screen:\n{self.screen}")
        os.close(self.master)
        return self.proc.wait(timeout=WAIT_S)


def _grid_rows(screen: str) -> list[str]:
    """The matrix grid's rows: a label, then a cell per test with the group bar."""
    return [line for line in screen.splitlines()
            if re.match(r"^[★ ] (unpatched|r\d+-\w+)\s", line) and "│" in line]  # fmt: skip


def test_show_draws_a_finished_run(run: Path) -> None:
    term = Terminal("show", str(run))
    assert term.finish() == 0
    screen = term.screen
    assert "\x1b[" in term.raw.decode(errors="replace")  # coloured: it knows it is a terminal
    assert "chosen r0-t0 (coder-a) · confidence 0.91 · cascade" in screen
    view = build_view(run)
    for cid in (c.id for c in view.candidates):
        assert re.search(rf"^ {re.escape(cid)}\s", screen, re.M), cid
    assert view.matrix is not None
    rows = _grid_rows(screen)
    assert len(rows) == len(view.matrix.rows) == 4
    assert rows[0].split()[0] == "unpatched" and rows[1].startswith("★ r0-t0")
    cells = rows[3].split("│")  # r0-t1: the wrong fix breaks 3 repository tests
    assert cells[1].count("✗") == 3 and len(cells[1].strip()) == view.matrix.repository
    assert "matrix: 4 rows × 39 tests (4 generated │ 35 repository)" in screen
    assert "cost $0.0088 of $0.25 (4%)" in screen
    assert max(len(line) for line in screen.splitlines()) <= COLUMNS
    assert "running" not in screen


def test_show_one_trajectory_step_by_step(run: Path) -> None:
    term = Terminal("show", str(run), "--trajectory", "r0-t0")
    assert term.finish() == 0
    screen = term.screen
    traj = json.loads((run / "trajectories" / "r0-t0.json").read_text())
    assert "trajectory r0-t0 — 5 steps" in screen
    for n in range(1, len(traj["steps"]) + 1):
        assert re.search(rf"^step {n} ", screen, re.M), n
    assert screen.count("  action   ") == len(traj["steps"])
    assert "thought  First a test that shows the bug" in screen
    assert "action   edit: create test_repro_issue.py" in screen
    assert "observed exit code: 1" in screen
    assert "more lines" in screen  # the long pytest output is cut, with how much was left out


def test_show_unknown_trajectory_and_not_a_run(run: Path, tmp_path: Path) -> None:
    term = Terminal("show", str(run), "--trajectory", "r9-t9")
    assert term.finish() == 1
    assert "error: run_small: no trajectory 'r9-t9'" in term.screen
    assert "hint: its trajectories: r0-t0, r0-t1" in term.screen
    empty = tmp_path / "empty"
    empty.mkdir()
    term = Terminal("show", str(empty))
    assert term.finish() == 1
    assert "error: " in term.screen and "does not look like a run directory" in term.screen


def test_show_follows_a_running_run_until_its_selection_appears(run: Path) -> None:
    selection = (run / "selection.json").read_text()
    (run / "selection.json").unlink()
    term = Terminal("show", str(run))
    term.wait_for(lambda s: s.count("running — no selection.json yet") >= 2, "two redraws")
    assert "r0-t0" in term.screen and term.proc.poll() is None
    (run / "selection.json.tmp").write_text(selection)
    (run / "selection.json.tmp").rename(run / "selection.json")
    assert term.finish() == 0
    final = term.screen.rsplit("quorum show — ", 1)[-1]  # the view printed after the live one
    assert "running" not in final and "chosen r0-t0 (coder-a)" in final
    assert len(_grid_rows(final)) == 4


def test_show_follow_stops_on_ctrl_c(run: Path) -> None:
    (run / "selection.json").unlink()
    term = Terminal("show", str(run), "--follow")
    term.wait_for(lambda s: "running — no selection.json yet" in s, "the running view")
    term.proc.send_signal(signal.SIGINT)
    assert term.finish() == 0
    final = term.screen.rsplit("quorum show — ", 1)[-1]  # the last view, drawn once more
    assert "running — no selection.json yet" in final and len(_grid_rows(final)) == 4


@pytest.mark.parametrize("flag", ["--no-follow", None])  # not a terminal: no follow either
def test_no_follow_draws_a_running_run_once(run: Path, flag: str | None) -> None:
    (run / "selection.json").unlink()
    args = ["show", str(run), "--width", "120", *([flag] if flag else [])]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "running — no selection.json yet; --follow redraws it" in result.output
    assert "candidates (4 solvers, 2 test writers)" in result.output
    assert max(len(line) for line in result.output.splitlines()) <= 120


def test_show_says_why_the_allocation_policy_stopped(run: Path) -> None:
    allocated(run)
    result = CliRunner().invoke(app, ["show", str(run), "--width", "200"])
    assert result.exit_code == 0, result.output
    assert f"allocation consensus · sampling stopped: {STOP.removeprefix('stopped: ')}" in (
        result.output)
    assert f"4 of 6 trajectories started · 2 never started · 1 cancelled ({CANCELLED})" in (
        result.output)
    [row] = [line for line in result.output.splitlines() if line.strip().startswith(CANCELLED)]
    assert "cancelled" in row  # its status in the candidates table
    plain = CliRunner().invoke(app, ["show", str(FIXTURE), "--width", "200"])
    assert "allocation" not in plain.output and "cancelled" not in plain.output


def test_solve_live_table_still_draws() -> None:
    """quorum/live.py's table, now shared with `quorum show`: a started and a finished row."""
    console = Console(width=100, record=True, file=io.StringIO())
    view = SolveView(console, ledger_cap_usd=0.25)
    spec = TrajectorySpec(id="r0-t0", task_id="t", model="m", temperature=0.0,
                          prompt_variant="default")  # fmt: skip
    view.started(spec)
    view.started(spec.model_copy(update={"id": "r0-t1"}))
    test = ReproTest.make(path="t.py", content="", command="pytest t.py", kind="pytest",
                          origin="r0-t1")  # fmt: skip
    candidate = Candidate(id="r0-t1", task_id="t", patch="", test=test,
                          test_on_original=TestOutcome(passed=False, exit_code=1),
                          test_on_patched=TestOutcome(passed=True, exit_code=0))  # fmt: skip
    traj = Trajectory(spec=spec.model_copy(update={"id": "r0-t1"}), cost_usd=0.01,
                      exit=ExitRecord(status="submitted"))  # fmt: skip
    view.finished(traj, candidate)
    console.print(view._table())
    text = console.export_text()
    assert "quorum solve — $0.0100 of $0.25 spent" in text
    assert re.search(r"r0-t0 .* 0 .* starting .* — .* 0\.0000 .* running", text)
    assert re.search(r"r0-t1 .* fail→pass .* 0\.0100 .* submitted", text)
