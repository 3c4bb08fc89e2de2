"""The demo: solve the bundled example issue, then grade every candidate and the selection
on the hidden tests that no agent or selector saw, and say plainly what happened."""

from __future__ import annotations

import json
import shlex
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.llm.embedded_perf import ModelTime, read_model_time
from envs.candidate import Candidate
from envs.task import Task
from quorum.report import build_view
from quorum.report.render import HTML
from quorum.report.screen import render_demo_screen
from quorum.sandboxes import SandboxFactory
from quorum.solve import SolveOutcome
from sandbox.errors import PatchApplyError

HIDDEN_TIMEOUT_S = 300
SERVER_LOG = "embedded-server.log"  # in the demo's folder, beside run/


class DemoGrade(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str
    candidates: dict[str, bool]  # candidate id -> passes the hidden tests
    selected: str | None
    selected_passes: bool | None  # None when Quorum abstained
    coverage: bool  # any candidate passes
    pass_rate: float  # share of candidates that pass (an estimate of pass@1)
    cost_usd: float
    tokens: int
    wall_s: float
    model_time: ModelTime | None = None  # the embedded server's split (absent: another model)


def passes_hidden(task: Task, patch: str, start_sandbox: SandboxFactory) -> bool:
    """The candidate patch, then the hidden test patch; every FAIL_TO_PASS and PASS_TO_PASS
    test must pass. Ids run in file order, as a full test run would collect them."""
    hidden = task.hidden
    if hidden is None or not patch.strip():
        return False
    ids = sorted(hidden.fail_to_pass + hidden.pass_to_pass)
    with start_sandbox() as box:
        try:
            box.apply_patch(patch)
            box.apply_patch(hidden.test_patch)
        except PatchApplyError:
            return False
        command = "python -m pytest -q -p no:cacheprovider " + " ".join(map(shlex.quote, ids))
        return box.exec(command, timeout=HIDDEN_TIMEOUT_S).ok


def grade_demo(task: Task, outcome: SolveOutcome, start_sandbox: SandboxFactory, *,
               server_log: Path | None = None) -> DemoGrade:
    solvers: Sequence[Candidate] = [c for c in outcome.candidates if c.solver != "test_writer"]
    verdicts = {c.id: passes_hidden(task, c.patch, start_sandbox) for c in solvers}
    chosen = outcome.selection.chosen
    return DemoGrade(
        task_id=task.id,
        candidates=verdicts,
        selected=chosen,
        selected_passes=None if chosen is None else verdicts.get(chosen, False),
        coverage=any(verdicts.values()),
        pass_rate=sum(verdicts.values()) / len(verdicts) if verdicts else 0.0,
        cost_usd=outcome.cost.total.usd,
        tokens=outcome.cost.total.total_tokens,
        wall_s=outcome.wall_s,
        model_time=read_model_time(server_log) if server_log else None,
    )


def final_screen(grade: DemoGrade, run_dir: Path) -> str:
    """The demo's last screen (quorum.report.screen), from the run directory's own files
    and the hidden-test grade."""
    view = build_view(run_dir)
    return render_demo_screen(view, grade.candidates, run_dir / HTML, wall_s=grade.wall_s,
                              model_time=grade.model_time)


def record(grade: DemoGrade, history: Path) -> None:
    """One line per demo run, so repeated runs measure pass@1, coverage and selection."""
    history.parent.mkdir(parents=True, exist_ok=True)
    with history.open("a") as out:
        out.write(json.dumps(grade.model_dump()) + "\n")
