"""The main job: from a task to a selected patch (or an abstention), under one budget.

task -> sandboxes from a snapshot -> N trajectories in rounds -> pooled tests ->
pass matrix -> selection -> run directory (trajectories/, candidates.jsonl, tests/,
matrix.json, selection.json, cost.json, spend.jsonl, report.md, report.html, patch.diff).

A run directory that already exists resumes: finished trajectories are kept, and
spend.jsonl (every charge of the ledger, appended as it is made) is charged to the new
ledger first, so the caps hold across a kill and cost.json counts every call paid for."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.llm import BudgetCaps, Charge, Endpoint, Ledger, LedgerReport, LLMClient
from agent.rollout import RolloutConfig, RolloutEvents, run_rollouts
from agent.store import RunStore
from agent.tools import ToolConfig, default_tools
from envs.candidate import Candidate, ReproTest
from envs.loader import drop_truncated_tail, load_json, load_records
from envs.task import Task
from quorum.allocating import PolicyAllocator
from quorum.allocation import make_policy
from quorum.report import write_reports
from quorum.sandboxes import Backend, sandbox_factory
from sandbox.protocol import SandboxFactory
from selection.agent import AgentVerdict, run_selection_agent
from selection.hybrid import SelectConfig
from selection.matrix import build_matrix
from selection.pipeline import RunOptions, select_run
from selection.pooled import rank_by_pooled
from selection.result import Selection
from selection.verifier import EndpointVerifier, MemoVerifier, condense_trajectory


class SolveOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    rollout: RolloutConfig = Field(default_factory=RolloutConfig)
    budget_usd: float | None = Field(None, ge=0)
    budget_tokens: int | None = Field(None, ge=0)
    budget_usd_per_trajectory: float | None = Field(None, ge=0)
    sandbox: Backend = "docker"
    ca_bundle: Path | None = None
    test_timeout_s: float = Field(120, gt=0)
    selection: SelectConfig = Field(default_factory=SelectConfig)
    regression_tests: bool = Field(True, description="run the repo's tests near the change")
    selection_agent: bool = Field(
        False, description="the first model may write tests to tell the top patches apart"
    )
    probe_behaviour: bool = Field(
        False, description="the first model writes probe calls; patches that behave alike "
        "on them vote as one fix (selection.differential)")
    tournament: bool = Field(
        False, description="the first model judges the behaviours pairwise on the calls "
        "where they differ (selection.tournament); probes behaviour too")
    test_network: Literal["none", "bridge"] = Field(
        "none", description="network of the containers that only run tests (pool, matrix, "
        "regressions, grading); agents never have any. bridge: connected machines only")
    allocation: Literal["fixed", "consensus", "adaptive"] = Field(
        "fixed", description="how many of the N trajectories to spend (quorum.allocation): "
        "fixed runs all N at once; consensus 2 at a time, adaptive one at a time, and both "
        "stop early")


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
    verifier: Endpoint | None = None,
) -> SolveOutcome:
    """`verifier`, when given, scores every unique patch execution-free (YES/NO logprobs)
    through the same ledger; its score joins the tests in the hybrid selector."""
    started = time.monotonic()
    say = progress or (lambda _m: None)
    store = RunStore(run_dir)
    (run_dir / "error.txt").unlink(missing_ok=True)  # an earlier attempt's, now resumed
    for note in store.resume():  # a crash mid-write: named, and that trajectory redone
        say(note)
    _write_json(run_dir / "task.json", task.model_dump(exclude={"hidden"}))
    _write_json(run_dir / "options.json", options.model_dump(mode="json"))
    journal = SpendJournal(run_dir / "spend.jsonl")
    ledger = Ledger(
        BudgetCaps(
            run_usd=options.budget_usd,
            run_tokens=options.budget_tokens,
            trajectory_usd=options.budget_usd_per_trajectory,
        ),
        journal=journal.append,
    )
    ledger.restore(journal.read())  # a resumed run: what its earlier processes spent
    clients = [LLMClient(endpoint, ledger) for endpoint in endpoints]
    judge = LLMClient(verifier, ledger) if verifier else None
    try:
        with sandbox_factory(
            task, options.sandbox, run_id=run_dir.name, ca_bundle=options.ca_bundle,
            progress=say, test_network=options.test_network == "bridge",
        ) as start_sandbox:  # fmt: skip
            test_sandbox = partial(start_sandbox, tests=True)

            async def rank_round(cands: list[Candidate]) -> list[Candidate]:
                matrix = await build_matrix(
                    _solvers(cands), _pool(cands), test_sandbox,
                    concurrency=options.rollout.concurrency,
                    test_timeout_s=options.test_timeout_s,
                )  # fmt: skip
                return rank_by_pooled(_solvers(cands), matrix)

            # One verifier for the run: what adaptive allocation scored, selection reuses.
            verifier = MemoVerifier(EndpointVerifier(judge)) if judge else None
            allocator = (
                PolicyAllocator(make_policy(options.allocation), task.id, ledger, test_sandbox,
                                test_timeout_s=options.test_timeout_s,
                                verifier=verifier if options.allocation == "adaptive" else None,
                                issue=task.problem_statement,
                                trajectory=lambda c: _condensed(run_dir, [c]).get(c.id, ""))
                if options.allocation != "fixed"
                else None
            )  # fmt: skip
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
                allocator=allocator,
            )
            if allocator is not None:
                _write_json(run_dir / "allocation.json", allocator.record())
            run = await select_run(
                task.id, candidates, _pool(candidates), test_sandbox, task.problem_statement,
                RunOptions(selection=options.selection, test_timeout_s=options.test_timeout_s,
                           concurrency=options.rollout.concurrency,
                           regression_tests=options.regression_tests,
                           behaviour=options.probe_behaviour or options.tournament,
                           tournament=options.tournament),
                verifier=verifier,
                trajectories=_condensed(run_dir, _solvers(candidates)) if judge else None,
                agent=_agent(task, clients[0], start_sandbox, options)
                if options.selection_agent and clients
                else None,
                prober=clients[0] if clients else None,
                say=say,
                tests_run=getattr(events, "tests_run", None),  # the live view's bar, if any
            )  # fmt: skip
    finally:
        for client in [*clients, *([judge] if judge else [])]:
            await client.aclose()
    selection = run.selection
    if run.repro is not None:  # always built: select_run was given a sandbox factory
        run.repro.save(run_dir / "matrix.json")
    if run.regress is not None:
        run.regress.save(run_dir / "regressions.json")
    _save_tests(run_dir / "tests", _pool(candidates))
    solvers = _solvers(candidates)
    for cand in solvers:
        cand.scores.update(run.scores.get(cand.id, {}))
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
    write_reports(run_dir)  # report.md and report.html, from the files just written
    return outcome


class SpendJournal:
    """spend.jsonl: one ledger charge a line, appended as it is made; a line is whole or
    absent (a crash loses at most the charge being written)."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    def append(self, charge: Charge) -> None:
        line = charge.model_dump_json() + "\n"
        with self._lock, self.path.open("a") as out:
            out.write(line)
            out.flush()

    def read(self) -> list[Charge]:
        """The charges so far; a last line cut short by a crash is cut off the file (that
        one charge is lost), so the next append starts a line of its own."""
        if not self.path.exists():
            return []
        loaded = load_records(self.path, Charge, what="spend journal",
                              tolerate_truncated_tail=True)  # fmt: skip
        drop_truncated_tail(loaded)
        return loaded.records


def _solvers(candidates: Sequence[Candidate]) -> list[Candidate]:
    return [c for c in candidates if c.solver != "test_writer"]


def _pool(candidates: Sequence[Candidate]) -> list[ReproTest]:
    """Every generated test once (by content id), from solvers and test writers alike."""
    pool: dict[str, ReproTest] = {}
    for cand in candidates:
        if cand.test is not None:
            pool.setdefault(cand.test.id, cand.test)
    return list(pool.values())


def _agent(
    task: Task, client: LLMClient, start_sandbox: SandboxFactory, options: SolveOptions
) -> Callable[[Sequence[Candidate]], Awaitable[AgentVerdict]]:
    async def run(top: Sequence[Candidate]) -> AgentVerdict:
        return await run_selection_agent(
            task.problem_statement, top, client, start_sandbox,
            test_timeout_s=options.test_timeout_s,
        )  # fmt: skip

    return run


def _condensed(run_dir: Path, solvers: Sequence[Candidate]) -> dict[str, str]:
    out = {}
    for cand in solvers:
        path = run_dir / "trajectories" / f"{cand.id}.json"
        if path.is_file():
            out[cand.id] = condense_trajectory(load_json(path, what="trajectory"))
    return out


def _save_tests(directory: Path, tests: Sequence[ReproTest]) -> None:
    directory.mkdir(parents=True, exist_ok=True)
    for test in tests:
        _write_json(directory / f"{test.id}.json", test.model_dump())


def _write_json(path: Path, data: object) -> None:
    path.write_text(json.dumps(data, indent=1, default=str))
