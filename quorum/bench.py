"""`quorum bench`: solve many SWE-bench-format instances, write official predictions as they
finish, optionally grade them, survive a crash.

Layout of `out/`: bench.jsonl (one InstanceRecord a line: the source of truth for resume),
preds.jsonl (official: instance_id, model_name_or_path, model_patch; rewritten from
bench.jsonl at start, appended as instances finish), runs/ID/ (solve's run directory, which
itself resumes finished trajectories), eval/ID/PATCH_ID/ (grading logs), bench_report.json,
bench_report.html (its plots; `quorum report OUT` rebuilds it).

An instance is finished once its record is in bench.jsonl; anything else is redone. A
Docker engine that stops answering stops the bench (its instances in flight get no
"error" record), so that a rerun resumes them once the engine is back.

Where instances run is the executor's business (this host's asyncio pool, or Ray tasks in
quorum/bench_ray.py); the driver here stays the one writer of bench.jsonl and preds.jsonl,
so resume works the same whichever executor ran the finished instances."""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agent.llm import Endpoint
from envs.candidate import content_id
from envs.environment import EnvironmentBuilder
from envs.instances import Instance
from envs.loader import Loaded, drop_truncated_tail, load_json, load_records
from envs.official_images import DEFAULT_NAMESPACE, ImageSource
from envs.patch import split_by_file
from quorum.allocating import AllocationOutcome, read_allocation
from quorum.bench_budget import RunBudget, journal_usd, run_admitted
from quorum.evaluate import EvalOptions, grade_instance
from quorum.outcomes import bench_outcomes, write_table
from quorum.solve import SolveOptions, solve
from sandbox.errors import EngineUnavailable, QuorumError
from sandbox.provider import DockerProvider


class BenchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: Path
    model_name: str = Field("quorum", description="model_name_or_path in preds.jsonl")
    workers: int = Field(1, ge=1, description="instances at once")
    solve: SolveOptions = Field(default_factory=SolveOptions)
    grade: bool = Field(False, description="grade the selected patch and every candidate")
    mirror_dir: Path | None = None
    images: ImageSource = Field("build", description="instance images: official, build, auto")
    image_namespace: str = Field(DEFAULT_NAMESPACE, description="where official images are")
    eval_timeout_s: float = Field(1800, gt=0)
    executor: Literal["local", "ray"] = Field(
        "local", description="local: an asyncio pool on this host; ray: one Ray task an instance"
    )
    ray_address: str | None = Field(
        None, description="Ray cluster to join; None starts (or attaches to) a local Ray"
    )
    budget_usd_total: float | None = Field(
        None,
        ge=0,
        description="run-wide cap the driver shares over the instances as they "
        "start (quorum/bench_budget.py); solve.budget_usd stays the per-instance cap",
    )


class InstanceRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_id: str
    status: str = Field(description="patch, abstained or error")
    patch: str = ""
    error: str = ""
    cost_usd: float = 0.0
    tokens: int = 0
    wall_s: float = 0.0
    candidates: int = 0
    resolved: bool | None = Field(None, description="the selected patch; None if not graded")
    candidate_resolved: list[bool] = Field(
        default_factory=list, description="every solver candidate's verdict, when graded"
    )
    options: dict = Field(
        default_factory=dict,
        description="what it ran with: the models, the verifier model and SolveOptions",
    )
    allocation: AllocationOutcome | None = Field(
        None,
        description="why sampling stopped, what it saved; None for fixed (and records "
        "written before allocation existed)",
    )


def read_records(out: Path) -> dict[str, InstanceRecord]:
    """The finished instances of bench.jsonl; a later line for the same id wins."""
    return {rec.instance_id: rec for rec in _load_records(out).records}


def _load_records(out: Path) -> Loaded[InstanceRecord]:
    path = out / "bench.jsonl"
    if not path.exists():
        return Loaded(path=path)
    return load_records(
        path, InstanceRecord, what="bench record", name_field="instance_id",
        tolerate_truncated_tail=True,  # a line cut by a crash: that instance is redone
    )  # fmt: skip


def resume_records(out: Path) -> tuple[dict[str, InstanceRecord], list[str]]:
    """bench.jsonl before this run appends to it: the finished records, and a note for a
    truncated last line, which is cut off the file (its instance is redone)."""
    loaded = _load_records(out)
    drop_truncated_tail(loaded)
    notes = [f"{note}; that instance is redone" for note in loaded.notes()]
    return {rec.instance_id: rec for rec in loaded.records}, notes


class _Sink:
    """Appends records and predictions under one lock, record first (it decides resume)."""

    def __init__(self, out: Path, model_name: str) -> None:
        self.out, self.model_name, self.lock = out, model_name, threading.Lock()

    def rewrite_preds(self, records: dict[str, InstanceRecord]) -> None:
        with (self.out / "preds.jsonl").open("w") as f:
            for rec in records.values():
                f.write(self._pred(rec) + "\n")

    def add(self, rec: InstanceRecord) -> None:
        with self.lock:
            with (self.out / "bench.jsonl").open("a") as f:
                f.write(rec.model_dump_json() + "\n")
            with (self.out / "preds.jsonl").open("a") as f:
                f.write(self._pred(rec) + "\n")

    def _pred(self, rec: InstanceRecord) -> str:
        return json.dumps(
            {
                "instance_id": rec.instance_id,
                "model_name_or_path": self.model_name,
                "model_patch": rec.patch,
            }
        )


Done = Callable[[InstanceRecord], None]


class Executor(Protocol):
    """Runs instances somewhere and hands each finished record to `done`, on the driver's
    event loop; it never writes the run's files itself. Each instance starts only once
    `budget` admits it, with the cap it gives (the run-wide budget is the driver's)."""

    async def run(
        self,
        todo: Sequence[Instance],
        endpoints: Sequence[Endpoint],
        done: Done,
        budget: RunBudget | None = None,
    ) -> None: ...


def capped(options: BenchOptions, cap: float | None) -> BenchOptions:
    """The options one instance runs with: its cap from the run-wide budget."""
    if cap is None or cap == options.solve.budget_usd:
        return options
    solve = options.solve.model_copy(update={"budget_usd": cap})
    return options.model_copy(update={"solve": solve})


async def run_bench(
    instances: Sequence[Instance],
    endpoints: Sequence[Endpoint],
    options: BenchOptions,
    *,
    on_done: Callable[[InstanceRecord, dict[str, InstanceRecord]], None] | None = None,
    provider: DockerProvider | None = None,
    progress: Callable[[str], None] | None = None,
    verifier: Endpoint | None = None,
    executor: Executor | None = None,
) -> dict:
    """`provider` (the local executor's Docker engine) defaults to this host's; `progress`
    hears what resume left out of bench.jsonl (a line cut short by a crash); `verifier`
    scores every instance's patches execution-free, as in `quorum solve`; `executor`
    defaults to the one `options.executor` names."""
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    records, notes = resume_records(out)
    if progress:
        for note in notes:
            progress(note)
    sink = _Sink(out, options.model_name)
    sink.rewrite_preds(records)
    todo = [i for i in instances if i.instance_id not in records]
    budget = RunBudget.from_disk(
        options.budget_usd_total, options.solve.budget_usd, out,
        {i: rec.cost_usd for i, rec in records.items()}, [i.instance_id for i in todo],
    )  # fmt: skip

    def finish(rec: InstanceRecord) -> None:
        sink.add(rec)
        records[rec.instance_id] = rec
        spent = journal_usd(out / "runs" / rec.instance_id)  # an error record says 0
        budget.finished(rec.instance_id, max(rec.cost_usd, spent))
        if on_done:
            on_done(rec, records)

    try:
        runner = executor or _executor(options, provider, verifier)
        await runner.run(todo, endpoints, finish, budget)
    finally:  # an interrupted bench leaves the table of what it finished too
        await asyncio.to_thread(write_outcomes, out, progress)
    done = {i.instance_id: records[i.instance_id] for i in instances if i.instance_id in records}
    report = summarize(list(done.values()), total=len(instances))
    report.update(budget.summary())
    report["instance_options"] = {i: rec.options for i, rec in done.items()}
    (out / "bench_report.json").write_text(json.dumps(report, indent=2))
    # Here, not at the top: the report reads this module, and matplotlib loads only now.
    from quorum.report.bench_render import write_bench_report

    await asyncio.to_thread(write_bench_report, out)  # never raises: the records are kept
    return report


def write_outcomes(out: Path, progress: Callable[[str], None] | None = None) -> Path:
    """outcomes.jsonl: every finished instance's candidates as `quorum simulate` replays
    them (quorum/outcomes.py), rewritten whole each time; an instance it cannot read is
    named and left out, never a reason to fail the bench."""
    table, notes = bench_outcomes(out)
    for note in notes:
        if progress:
            progress(f"outcomes.jsonl: {note}")
    path = out / "outcomes.jsonl"
    write_table(table, path)
    return path


def _executor(
    options: BenchOptions, provider: DockerProvider | None, verifier: Endpoint | None = None
) -> Executor:
    if options.executor == "ray":
        if verifier is not None:
            raise QuorumError(
                "--verifier-model is not supported with --executor ray yet",
                hint="use --executor local, or leave the verifier out",
            )
        from quorum.bench_ray import RayExecutor  # it imports this module; Ray is optional

        return RayExecutor(options)
    return LocalExecutor(options, provider, verifier)


class LocalExecutor:
    """`workers` instances at once in this event loop, on this host's Docker engine."""

    def __init__(
        self,
        options: BenchOptions,
        provider: DockerProvider | None = None,
        verifier: Endpoint | None = None,
    ) -> None:
        self.options, self.provider, self.verifier = options, provider, verifier

    async def run(
        self,
        todo: Sequence[Instance],
        endpoints: Sequence[Endpoint],
        done: Done,
        budget: RunBudget | None = None,
    ) -> None:
        if not todo:
            return
        budget = budget or RunBudget(None, self.options.solve.budget_usd)
        provider = self.provider or DockerProvider.connect(run_id=bench_run_id(self.options))
        builder = instance_builder(provider, self.options)

        async def one(inst: Instance, cap: float | None) -> None:
            done(await solve_and_grade(inst, endpoints, capped(self.options, cap), builder,
                                       verifier=self.verifier))  # fmt: skip

        try:
            await run_admitted(todo, self.options.workers, budget, one)
        finally:
            provider.close_all()


def bench_run_id(options: BenchOptions) -> str:
    return f"bench-{options.out.name}"[:40]


def instance_builder(
    provider: DockerProvider, options: BenchOptions, *, cache_dir: Path | None = None
) -> EnvironmentBuilder:
    return EnvironmentBuilder(
        provider,
        cache_dir=cache_dir or options.out / "cache",
        mirror_dir=options.mirror_dir,
        ca_bundle=options.solve.ca_bundle,
        images=options.images,
        namespace=options.image_namespace,
    )


async def solve_and_grade(
    inst: Instance,
    endpoints: Sequence[Endpoint],
    options: BenchOptions,
    builder: EnvironmentBuilder,
    *,
    verifier: Endpoint | None = None,
) -> InstanceRecord:
    """One instance start to finish: what every executor runs, wherever it runs."""
    rec = await _solve_one(inst, endpoints, options, builder, verifier)
    if options.grade and rec.status != "error":
        rec = await asyncio.to_thread(_grade_one, inst, rec, options, builder)
    return rec


async def _solve_one(
    inst: Instance,
    endpoints: Sequence[Endpoint],
    options: BenchOptions,
    builder: EnvironmentBuilder,
    verifier: Endpoint | None = None,
) -> InstanceRecord:
    started = time.monotonic()
    ran_with = instance_options(endpoints, options, verifier)
    run_dir = options.out / "runs" / inst.instance_id
    run_dir.mkdir(parents=True, exist_ok=True)
    try:
        task = await asyncio.to_thread(
            builder.solve_task, inst, run_dir / "environment.log",
            in_docker=options.solve.sandbox == "docker",
        )  # fmt: skip
        outcome = await solve(task, endpoints, options.solve, run_dir, verifier=verifier)
    except EngineUnavailable:
        raise  # not this instance's failure: the bench stops unrecorded, a rerun resumes it
    except QuorumError as exc:
        (run_dir / "error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
        return InstanceRecord(
            instance_id=inst.instance_id,
            status="error",
            error=str(exc),
            wall_s=round(time.monotonic() - started, 1),
            options=ran_with,
        )
    solvers = [c for c in outcome.candidates if c.solver != "test_writer"]
    _save_candidate_patches(run_dir, solvers)
    allocation = read_allocation(run_dir, options.solve.rollout.n, [c.cost_usd for c in solvers])
    return InstanceRecord(
        instance_id=inst.instance_id,
        status="abstained" if outcome.selection.abstained else "patch",
        patch=without_bytecode(outcome.patch),
        cost_usd=outcome.cost.total.usd,
        tokens=outcome.cost.total.total_tokens,
        wall_s=round(time.monotonic() - started, 1),
        candidates=len(solvers),
        options=ran_with,
        allocation=allocation,
    )


def instance_options(
    endpoints: Sequence[Endpoint], options: BenchOptions, verifier: Endpoint | None
) -> dict:
    """What one instance ran with, for its record: model names, never their keys."""
    return {
        "models": [e.model for e in endpoints],
        "verifier_model": verifier.model if verifier else None,
        "solve": options.solve.model_dump(mode="json"),
        "images": options.images,
        "image_namespace": options.image_namespace,
    }


def without_bytecode(patch: str) -> str:
    """Drop compiled-Python files: a sandbox's test runs leave __pycache__ in repositories
    without a .gitignore, and a submitted prediction must not carry them."""
    sections = split_by_file(patch)
    if not sections:
        return patch
    return "".join(
        text
        for path, text in sections.items()
        if "__pycache__/" not in path and not path.endswith((".pyc", ".pyo"))
    )


def _save_candidate_patches(run_dir: Path, solvers: Sequence) -> None:
    (run_dir / "candidate_patches.json").write_text(
        json.dumps([without_bytecode(c.patch) for c in solvers], indent=1)
    )


def _grade_one(
    inst: Instance, rec: InstanceRecord, options: BenchOptions, builder: EnvironmentBuilder
) -> InstanceRecord:
    """Grade each distinct candidate patch once; the selected patch is one of them."""
    path = options.out / "runs" / inst.instance_id / "candidate_patches.json"
    patches = load_json(path, what="candidate patches") if path.exists() else []
    verdicts: dict[str, bool] = {}
    for patch in [*patches, rec.patch]:
        key = content_id(patch)
        if key in verdicts:
            continue
        if not patch.strip():
            verdicts[key] = False
            continue
        eval_opts = EvalOptions(
            out=options.out / "eval" / inst.instance_id / key,
            timeout_s=options.eval_timeout_s,
            ca_bundle=options.solve.ca_bundle,
            network=options.solve.test_network == "bridge",
        )
        verdicts[key] = grade_instance(builder, inst, patch, eval_opts).resolved
    return rec.model_copy(
        update={
            "resolved": verdicts[content_id(rec.patch)],
            "candidate_resolved": [verdicts[content_id(p)] for p in patches],
        }
    )


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def _pass_at(rec: InstanceRecord, k: int) -> float:
    """With fewer than k candidates, all of them were the k tries."""
    n, c = len(rec.candidate_resolved), sum(rec.candidate_resolved)
    return pass_at_k(n, c, k) if n >= k else float(c > 0)


def summarize(records: list[InstanceRecord], *, total: int) -> dict:
    done = len(records)
    cost = sum(r.cost_usd for r in records)
    report: dict = {
        "total_instances": total,
        "done_instances": done,
        "error_instances": sum(r.status == "error" for r in records),
        "abstained_instances": sum(r.status == "abstained" for r in records),
        "cost_usd": round(cost, 6),
        "cost_usd_per_instance": round(cost / done, 6) if done else None,
        "tokens": sum(r.tokens for r in records),
        "wall_s": round(sum(r.wall_s for r in records), 1),
    }
    graded = [r for r in records if r.resolved is not None or r.status == "error"]
    if not graded:
        return report
    resolved = sum(bool(r.resolved) for r in graded)
    covered = sum(any(r.candidate_resolved) for r in graded)
    ks = range(1, max((len(r.candidate_resolved) for r in graded), default=0) + 1)
    report.update(
        {
            "graded_instances": len(graded),
            "resolved_instances": resolved,
            "resolve_rate": round(resolved / len(graded), 4),
            "coverage": round(covered / len(graded), 4),  # any candidate resolved
            "pass_at_k": {
                str(k): round(sum(_pass_at(r, k) for r in graded) / len(graded), 4) for k in ks
            },
            "selection_accuracy": round(resolved / covered, 4) if covered else None,
            "cost_usd_per_resolved": round(cost / resolved, 6) if resolved else None,
            "resolved_ids": sorted(r.instance_id for r in graded if r.resolved),
        }
    )
    return report
