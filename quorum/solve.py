"""The main job: from a task to a selected patch (or an abstention), under one budget.

task -> sandboxes from a snapshot -> N trajectories in rounds -> pooled tests ->
pass matrix -> selection -> run directory (trajectories/, candidates.jsonl, tests/,
matrix.json, selection.json, cost.json, report.md, patch.diff)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from agent.llm import BudgetCaps, Endpoint, Ledger, LedgerReport, LLMClient
from agent.rollout import RolloutConfig, RolloutEvents, run_rollouts
from agent.store import RunStore
from agent.tools import ToolConfig, default_tools
from envs.candidate import Candidate, ReproTest
from envs.task import Task
from quorum.report import write_report
from quorum.sandboxes import Backend, SandboxFactory, sandbox_factory
from selection.matrix import PassMatrix, build_matrix
from selection.pooled import rank_by_pooled, select_pooled
from selection.result import Selection


class SolveOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    budget_usd: float | None = Field(None, ge=0)
    budget_tokens: int | None = Field(None, ge=0)
    budget_usd_per_trajectory: float | None = Field(None, ge=0)
    sandbox: Backend = "docker"
    ca_bundle: Path | None = None
    test_timeout_s: float = Field(120, gt=0)


class SolveOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")

    run_dir: Path
    selection: Selection
    patch: str
    candidates: list[Candidate]
    cost: LedgerReport
    wall_s: float


async def solve(
    task: Task,
    endpoints: Sequence[Endpoint],
    options: SolveOptions,
    run_dir: Path,
    *,
    events: RolloutEvents | None = None,
    progress: Callable[[str], None] | None = None,
) -> SolveOutcome:
    started = time.monotonic()
    say = progress or (lambda _m: None)
    store = RunStore(run_dir)
    _write_json(run_dir / "task.json", task.model_dump(exclude={"hidden"}))
    _write_json(run_dir / "options.json", options.model_dump(mode="json"))
    ledger = Ledger(
        BudgetCaps(
            run_usd=options.budget_usd,
            run_tokens=options.budget_tokens,
            trajectory_usd=options.budget_usd_per_trajectory,
        )
    )
    clients = [LLMClient(endpoint, ledger) for endpoint in endpoints]
    try:
        with sandbox_factory(
            task, options.sandbox, run_id=run_dir.name, ca_bundle=options.ca_bundle,
            progress=say,
        ) as start_sandbox:  # fmt: skip

            async def rank_round(cands: list[Candidate]) -> list[Candidate]:
                matrix = await _matrix(cands, start_sandbox, options)
                return rank_by_pooled(_solvers(cands), matrix)

            say(f"running {options.rollout.n} trajectories x {options.rollout.rounds} round(s)")
            candidates = await run_rollouts(
                task,
                clients=clients,
                tools=default_tools(ToolConfig()),
                start_sandbox=start_sandbox,
                store=store,
                config=options.rollout,
                rank_round=rank_round,
                events=events,
            )
            say("running every candidate against every generated test")
            matrix = await _matrix(candidates, start_sandbox, options)
    finally:
        for client in clients:
            await client.aclose()
    matrix.save(run_dir / "matrix.json")
    _save_tests(run_dir / "tests", _pool(candidates))
    solvers = _solvers(candidates)
    rank_by_pooled(solvers, matrix)  # records each candidate's pooled score
    selection = select_pooled(task.id, solvers, matrix)
    for cand in solvers:
        if cand.id in selection.scores:
            cand.scores[selection.method] = selection.scores[cand.id]
    store.rewrite_candidates(candidates)
    selection.save(run_dir / "selection.json")
    chosen = next((c for c in solvers if c.id == selection.chosen), None)
    patch = chosen.patch if chosen else ""
    (run_dir / "patch.diff").write_text(patch)
    cost = ledger.report()
    _write_json(run_dir / "cost.json", cost.model_dump(mode="json"))
    outcome = SolveOutcome(
        run_dir=run_dir,
        selection=selection,
        patch=patch,
        candidates=candidates,
        cost=cost,
        wall_s=time.monotonic() - started,
    )
    write_report(task, outcome.selection, candidates, matrix, cost, run_dir / "report.md")
    return outcome


def _solvers(candidates: Sequence[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.solver != "test_writer"]


def _pool(candidates: Sequence[Candidate]) -> list[ReproTest]:
    """Every generated test once (by content id), from solvers and test writers alike."""
    pool: dict[str, ReproTest] = {}
    for cand in candidates:
        if cand.test is not None:
            pool.setdefault(cand.test.id, cand.test)
    return list(pool.values())


async def _matrix(
    candidates: Sequence[Candidate], start_sandbox: SandboxFactory, options: SolveOptions
) -> PassMatrix:
    return await build_matrix(
        _solvers(candidates),
        _pool(candidates),
        start_sandbox,
        concurrency=options.rollout.concurrency,
        test_timeout_s=options.test_timeout_s,
    )


def _save_tests(directory: Path, tests: Sequence[ReproTest]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for test in tests:
        _write_json(directory / f"{test.id}.json", test.model_dump())


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1, default=str))
