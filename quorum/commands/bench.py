"""`quorum bench`: solve (and optionally grade) many instances; resumable."""

from __future__ import annotations

import asyncio
import json
import os
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.loop import AgentLimits
from agent.rollout import RolloutConfig
from envs.instances import load_instances, select
from quorum.bench import BenchOptions, InstanceRecord, run_bench
from quorum.models import default_models, endpoints_for
from quorum.paths import cache_dir
from quorum.solve import SolveOptions
from sandbox.config import default_ca_bundle
from sandbox.errors import QuorumError


class ExecutorChoice(StrEnum):
    local = "local"
    ray = "ray"


def bench_command(
    dataset: Annotated[Path, typer.Option(help="SWE-bench instances (JSONL/JSON).")],
    out: Annotated[Path, typer.Option(help="Run folder; an existing one resumes.")],
    n: Annotated[int | None, typer.Option("-n", help="First N instances (after filters).")] = None,
    workers: Annotated[int, typer.Option(help="Instances at once.", min=1)] = 1,
    budget_usd_per_instance: Annotated[
        float | None, typer.Option(help="Hard cap on each instance's spend.")
    ] = None,
    grade: Annotated[bool, typer.Option(help="Grade selected and candidate patches.")] = False,
    repo_mirror: Annotated[
        Path | None, typer.Option(help="Folder of bare clones named owner+name (offline).")
    ] = None,
    instance_ids: Annotated[
        list[str] | None, typer.Option("--instance-ids", help="Only these (repeatable).")
    ] = None,
    filter_: Annotated[
        str | None, typer.Option("--filter", help="Regex searched in instance ids.")
    ] = None,
    trajectories: Annotated[int, typer.Option("-k", help="Trajectories per instance.")] = 4,
    concurrency: Annotated[int, typer.Option(help="Trajectories at once per instance.")] = 4,
    max_steps: Annotated[int, typer.Option(help="Steps per trajectory.", min=1)] = 30,
    model: Annotated[list[str] | None, typer.Option(help="Model name (repeatable).")] = None,
    models_file: Annotated[Path | None, typer.Option(help="TOML \\[models.NAME] file.")] = None,
    executor: Annotated[
        ExecutorChoice,
        typer.Option(
            help="local: this host's Docker engine. ray: one Ray task an instance, each "
            "node using its own Docker engine (pip install 'quorum\\[ray]')."
        ),
    ] = ExecutorChoice.local,
    ray_address: Annotated[
        str | None,
        typer.Option(
            help="Ray cluster to join (HOST:PORT, or ray://HOST:10001 with ray\\[client]); "
            "default: start or attach a local Ray. Nodes read API keys from their own "
            "environment."
        ),
    ] = None,
) -> None:
    """Solve each instance with `quorum solve`'s pipeline, append to preds.jsonl as they
    finish, and report resolve rate, coverage, pass@k, selection accuracy and cost.
    With --executor ray, --workers caps the instances in flight across the cluster, and
    every node needs Quorum installed, the run folder at the same path, and the API keys
    exported where `ray start` ran."""
    console = Console(stderr=True, highlight=False)
    try:
        if ray_address and executor is not ExecutorChoice.ray:
            raise QuorumError("--ray-address needs --executor ray")
        instances = select(
            load_instances(dataset),
            ids=instance_ids,
            filter_regex=filter_,
            slice=f":{n}" if n is not None else None,
        )
        bundle = default_ca_bundle()
        names = model or default_models(os.environ)
        options = BenchOptions(
            out=out, model_name="quorum+" + "+".join(names), workers=workers, grade=grade,
            mirror_dir=repo_mirror, executor=executor.value, ray_address=ray_address,
            solve=SolveOptions(
                rollout=RolloutConfig(n=trajectories, concurrency=concurrency,
                                      limits=AgentLimits(max_steps=max_steps)),
                budget_usd=budget_usd_per_instance, ca_bundle=bundle),
        )  # fmt: skip
        started = time.monotonic()
        console.print(
            f"bench: {len(instances)} instance(s), {workers} worker(s) ({executor.value}) -> {out}"
        )

        def show(rec: InstanceRecord, records: dict[str, InstanceRecord]) -> None:
            done = [records[i.instance_id] for i in instances if i.instance_id in records]
            spend = sum(r.cost_usd for r in done)
            rate = len(done) / max(time.monotonic() - started, 1e-9) * 3600
            verdict = (
                "" if rec.resolved is None else (" resolved" if rec.resolved else " unresolved")
            )
            graded = sum(bool(r.resolved) for r in done)
            so_far = f", resolved so far {graded}" if grade else ""
            console.print(
                f"[{len(done)}/{len(instances)}] {rec.instance_id}: {rec.status}"
                f"{verdict}{so_far}, spend ${spend:.4f}, {rate:.1f}/h"
            )

        with endpoints_for(
            names, os.environ, models_file=models_file, cache_dir=cache_dir(os.environ)
        ) as endpoints:
            report = asyncio.run(run_bench(instances, endpoints, options, on_done=show))
    except QuorumError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    print(json.dumps({k: v for k, v in report.items() if k != "resolved_ids"}))
