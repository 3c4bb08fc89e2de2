"""N trajectories in parallel, in rounds. Each trajectory gets its own sandbox from the
task's snapshot; diversity comes from a temperature schedule, prompt variants and models.
Results are keyed by trajectory id, and a run directory that already holds finished
trajectories resumes: those are kept, unfinished and crashed ones start again. A Docker
engine that stops answering ends the run (with a message saying so), not just the
trajectories it was serving: a rerun then resumes."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent import prompts
from agent.agentless import AgentlessConfig, run_agentless
from agent.allocation import Allocator, Launch, Stop
from agent.evaluate import build_candidate
from agent.llm.client import LLMClient
from agent.loop import AgentLimits, StepHook, run_trajectory
from agent.store import RunStore
from agent.tools import Tool
from agent.trajectory import Trajectory, TrajectorySpec
from envs.candidate import Candidate
from envs.gitcmd import git
from envs.task import Task
from sandbox.errors import EngineUnavailable, QuorumError
from sandbox.protocol import Sandbox, SandboxFactory
from sandbox.starting import StartingSandbox

# Picks the candidates a later round is shown, given the last round's candidates.
RoundRanker = Callable[[list[Candidate]], Awaitable[list[Candidate]]]


class RolloutConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    n: int = Field(4, gt=0, description="solver trajectories per round")
    rounds: int = Field(1, gt=0)
    concurrency: int = Field(4, gt=0)
    test_writers: int = Field(0, ge=0, description="extra trajectories that only write tests")
    temperatures: list[float] = Field(default_factory=lambda: [0.0, 0.6, 0.9, 0.3])
    variants: list[str] = Field(default_factory=lambda: list(prompts.VARIANTS))
    shown_from_previous_round: int = Field(2, ge=0)
    limits: AgentLimits = Field(default_factory=AgentLimits)
    solver: Literal["auto", "agent", "agentless", "mixed"] = Field(
        "auto", description="auto (agentless for a model whose config says size = small, "
        "the agent loop for the rest), agent loop, agentless pipeline, or mixed (they "
        "alternate)"
    )
    agentless: AgentlessConfig = Field(default_factory=AgentlessConfig)


class RolloutEvents:
    """Hooks for a live view; the default does nothing."""

    def started(self, spec: TrajectorySpec) -> None: ...

    def step(self, traj: Trajectory, step) -> None: ...

    def finished(self, traj: Trajectory, candidate: Candidate | None) -> None: ...


def plan_round(
    task: Task, round_: int, config: RolloutConfig, models: Sequence[str],
    small_models: Collection[str] = (),
) -> list[TrajectorySpec]:  # fmt: skip
    """Deterministic ids and knobs, so a resumed run plans the same trajectories.
    `small_models` are the models `auto` gives the agentless pipeline."""
    specs = []
    total = config.n + config.test_writers
    for i in range(total):
        role = "solver" if i < config.n else "test_writer"
        model = models[i % len(models)]
        specs.append(
            TrajectorySpec(
                id=f"r{round_}-{'t' if role == 'solver' else 'w'}{i}",
                task_id=task.id,
                model=model,
                temperature=config.temperatures[i % len(config.temperatures)],
                prompt_variant=config.variants[i % len(config.variants)],
                round=round_,
                role=role,
                solver=_solver_for(config.solver, i, small=model in small_models),
            )
        )
    return specs


def _solver_for(choice: str, index: int, *, small: bool) -> str:
    if choice == "auto":
        return "agentless" if small else "agent"
    if choice == "mixed":
        return "agent" if index % 2 == 0 else "agentless"
    return choice


async def run_rollouts(
    task: Task,
    *,
    clients: Sequence[LLMClient],
    tools: Sequence[Tool],
    start_sandbox: SandboxFactory,
    store: RunStore,
    config: RolloutConfig,
    rank_round: RoundRanker,
    events: RolloutEvents | None = None,
    allocator: Allocator | None = None,
) -> list[Candidate]:
    """`allocator`, when given, decides each round's solver launches as trajectories
    finish (agent.allocation); a stop cancels those still running (the ledger keeps what
    they spent, their records what they did). Without it all N start at once."""
    events = events or RolloutEvents()
    # Sandbox work runs in threads (asyncio.to_thread). The default pool has cpu+4 threads;
    # on a small machine that, not the model, would cap how many trajectories progress.
    pool = ThreadPoolExecutor(max_workers=4 * config.concurrency + 4, thread_name_prefix="quorum")
    asyncio.get_running_loop().set_default_executor(pool)
    by_model = {client.config.name: client for client in clients}
    models = [client.config.name for client in clients]
    small_models = {c.config.name for c in clients if c.config.size == "small"}
    summary = await asyncio.to_thread(repo_summary, task)
    gate = asyncio.Semaphore(config.concurrency)
    # Sandboxes start ahead of their trajectory (up to one extra wave), so a trajectory
    # that gets a slot finds its container up, or at least on its way.
    warm = asyncio.Semaphore(2 * config.concurrency)
    done = store.candidates()
    all_candidates: list[Candidate] = []
    previous: list[Candidate] = []
    for round_ in range(config.rounds):
        specs = plan_round(task, round_, config, models, small_models)

        async def one(spec: TrajectorySpec, shown: list[Candidate]) -> Candidate | None:
            if spec.id in done and _kept(store.finished_trajectory(spec.id)):
                return done[spec.id]  # resumed: this trajectory already finished
            async with warm:
                sandbox = StartingSandbox.begin(start_sandbox, pool)
                try:
                    async with gate:
                        events.started(spec)
                        traj, candidate = await _trajectory(
                            spec, task, by_model[spec.model], tools, sandbox, start_sandbox,
                            store, config, summary, shown, events,
                        )  # fmt: skip
                except EngineUnavailable as exc:
                    await _close_quietly(sandbox)
                    raise _engine_lost(spec, exc) from exc
                except BaseException:
                    await _close_quietly(sandbox)
                    raise
                # outside the gate: the next trajectory need not wait for this
                await asyncio.to_thread(sandbox.close)
            store.add_candidate(candidate)
            events.finished(traj, candidate)
            return candidate

        if allocator is None:
            results = await asyncio.gather(*(one(spec, previous) for spec in specs))
        else:
            results = await _allocated(specs, partial(one, shown=previous), allocator)
        round_candidates = [c for c in results if c is not None]
        all_candidates.extend(round_candidates)
        if round_ + 1 < config.rounds:
            previous = (await rank_round(all_candidates))[: config.shown_from_previous_round]
    return all_candidates


async def _allocated(
    specs: Sequence[TrajectorySpec],
    one: Callable[[TrajectorySpec], Awaitable[Candidate | None]],
    allocator: Allocator,
) -> list[Candidate | None]:
    """One round under an allocator: test writers all start; solvers start as it says."""
    solvers = [s for s in specs if s.role == "solver"]
    writers = [asyncio.ensure_future(one(s)) for s in specs if s.role != "solver"]
    running: dict[asyncio.Future[Candidate | None], TrajectorySpec] = {}
    finished: list[Candidate] = []
    launched = 0
    try:
        while True:
            decision = await allocator.decide(
                finished, launched=launched, running=len(running), max_n=len(solvers))
            if isinstance(decision, Launch):
                for spec in solvers[launched : launched + decision.k]:
                    running[asyncio.ensure_future(one(spec))] = spec
                launched = min(launched + decision.k, len(solvers))
                continue
            if isinstance(decision, Stop) or not running:
                break
            done, _ = await asyncio.wait(running, return_when=asyncio.FIRST_COMPLETED)
            for fut in sorted(done, key=lambda f: solvers.index(running[f])):
                del running[fut]
                if (cand := fut.result()) is not None:
                    finished.append(cand)
    finally:
        for fut in running:  # stopped (or failed): cancel what still runs
            fut.cancel()
        await asyncio.gather(*running, return_exceptions=True)
    for fut in running:  # finished while the last decision was made: recorded, so kept
        if not fut.cancelled() and fut.exception() is None and fut.result() is not None:
            finished.append(fut.result())
    order = {s.id: i for i, s in enumerate(specs)}
    kept = sorted(finished, key=lambda c: order.get(c.id, len(order)))
    return [*kept, *await asyncio.gather(*writers)]


def _kept(traj: Trajectory | None) -> bool:
    """Whether a resumed run keeps this trajectory: finished, and not crashed (a crash is
    the sandbox's, the engine's or the endpoint's failure, not an answer: try it again)."""
    return traj is not None and traj.exit is not None and traj.exit.status != "crashed"


async def _close_quietly(sandbox: Sandbox) -> None:
    """Close after a failure: a close that fails too (the engine is gone) must not hide
    why; the label sweep removes what is left once this process has ended."""
    with contextlib.suppress(QuorumError):
        await asyncio.to_thread(sandbox.close)


def _engine_lost(spec: TrajectorySpec, exc: EngineUnavailable) -> EngineUnavailable:
    first = str(exc.args[0]).splitlines()[0] if exc.args else str(exc)
    return EngineUnavailable(
        f"the Docker engine stopped answering while trajectory {spec.id} ran: {first}",
        hint="start the engine again (a restart stops every sandbox), then rerun with the "
        "same run directory: finished trajectories are kept, unfinished ones start again",
    )


async def _trajectory(
    spec: TrajectorySpec,
    task: Task,
    client: LLMClient,
    tools: Sequence[Tool],
    sandbox: Sandbox,
    start_sandbox: SandboxFactory,
    store: RunStore,
    config: RolloutConfig,
    summary: str,
    previous: list[Candidate],
    events: RolloutEvents,
) -> tuple[Trajectory, Candidate]:
    hook: StepHook = events.step
    if spec.solver == "agentless":
        traj = await run_agentless(
            spec, task, sandbox, client, config=config.agentless,
            out_dir=store.trajectories, previous=previous, on_step=hook,
        )  # fmt: skip
    else:
        traj = await run_trajectory(
            spec, task, sandbox, client, tools,
            limits=config.limits, repo_summary=summary, out_dir=store.trajectories,
            previous=previous, on_step=hook,
        )  # fmt: skip
    return traj, await asyncio.to_thread(build_candidate, traj, sandbox, start_sandbox)


def repo_summary(task: Task, limit: int = 200) -> str:
    """The file list at the base commit, shared by every trajectory's prompt (part of the
    cached prefix). Read from the host repository: no sandbox needs to be up for it."""
    listing = git("ls-tree", "-r", "--name-only", task.base_commit or "HEAD", cwd=task.repo)
    files = listing.splitlines()
    shown = "\n".join(files[:limit])
    more = f"\n... and {len(files) - limit} more files" if len(files) > limit else ""
    return f"Files in the repository:\n{shown}{more}"
