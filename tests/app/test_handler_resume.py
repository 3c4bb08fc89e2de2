"""A job cut off in the middle of a real solve (the app's process killed with SIGKILL after
one trajectory finished, the other still waiting on its model) is resumed by the next
process: `resumed=True`, the finished trajectory kept (its model is not asked again), one
check run, one pull request. Its budget reservation is its own to replace, and a job cut off
twice gives it back."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from quorum.app.handler import spend_key
from tests.agent.scripted import solver_script
from tests.app.handler_kit import INSTALLATION, ISSUE, REPO, SECRET, World, world
from tests.helpers.openai_standin import Reply

ROOT = Path(__file__).parents[2]


def _calls(w: World, model: str) -> int:
    return sum(1 for r in w.models.requests if r.body.get("model") == model)


def _finished(run_dir: Path) -> list[str]:
    try:
        lines = (run_dir / "candidates.jsonl").read_text().splitlines()
    except OSError:
        return []
    return [json.loads(line)["id"] for line in lines if line.strip()]


def _kill_mid_run(w: World, run_dir: Path) -> None:
    """Attempt 1 in a child process, SIGKILLed once r0-t0 is on disk (r0-t1 still waits)."""
    spec = w.tmp / "spec.json"
    spec.write_text(json.dumps({
        "settings": w.settings.model_dump(mode="json",
                                          exclude={"private_key_pem", "webhook_secret"}),
        "webhook_secret": SECRET, "models_url": w.models.base_url,
        "job": w.job().model_dump(mode="json")}))  # fmt: skip
    child = subprocess.Popen([sys.executable, "-m", "tests.app.interrupted_child", str(spec)],
                             cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 240
        while "r0-t0" not in _finished(run_dir):
            assert child.poll() is None, child.stderr.read().decode() if child.stderr else ""
            assert time.monotonic() < deadline, "the first trajectory did not finish in time"
            time.sleep(0.2)
        assert "r0-t1" not in _finished(run_dir)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait()
        left = subprocess.run(["docker", "ps", "-aq", "--filter",
                               f"label=ai.quorum.owner-pid={child.pid}"],
                              capture_output=True, text=True).stdout.split()
        if left:  # the dead process's sandboxes (the app's start-up sweep would take them)
            subprocess.run(["docker", "rm", "-f", *left], capture_output=True)


@pytest.mark.docker
def test_a_job_killed_mid_solve_resumes_keeping_the_finished_trajectory(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title="add(1, 2) returns -1",
                           body="pkg.calc.add subtracts instead of adding.")
        w.models.script_for("good-a", *solver_script("add(1, 2) == 3", "a + b"))
        w.models.script_for("good-b", Reply.text("(thinking)", delay_s=90))  # cut off here
        run_dir = w.settings.workdir / "jobs" / "1" / "run"
        _kill_mid_run(w, run_dir)
        assert w.github.pulls == [] and len(w.github.check_runs) == 1
        calls_a = _calls(w, "good-a")
        w.models.script_for("good-b", *solver_script("add(5, 5) == 10", "a + b"))
        outcome = asyncio.run(w.handler(w.job(), resumed=True))
        assert outcome.state == "done" and outcome.note.startswith("pull #"), outcome
        assert _calls(w, "good-a") == calls_a  # r0-t0 was kept, not run again
        assert _finished(run_dir).count("r0-t0") == 1 and "r0-t1" in _finished(run_dir)
        assert len(w.github.pulls) == 1 and len(w.github.check_runs) == 1  # the same check run
        assert w.github.check_runs[0]["conclusion"] == "success"
        again = asyncio.run(w.handler(w.job(), resumed=True))  # its outcome never landed
        assert again.state == "done" and len(w.github.pulls) == 1
        assert len([u for u in w.github.ref_updates if "quorum/issue" in u["ref"]]) <= 1
        assert w.github.violations == []


def test_a_job_interrupted_twice_gives_back_what_it_reserved(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title="bug", body="x")
        job = w.job()
        w.handler.spend.reserve(INSTALLATION, spend_key(job), usd=None, tokens=None,
                                must_fit=False)  # no ask: it held all that was left
        assert w.handler.spend.remaining(INSTALLATION).usd == 0
        failed = job.model_copy(update={"state": "failed"})
        assert asyncio.run(w.handler(failed, resumed=True)).state == "failed"
        left = w.handler.spend.remaining(INSTALLATION)
        assert (left.usd, left.tokens) == (5.0, 2_000_000)  # its run spent nothing
