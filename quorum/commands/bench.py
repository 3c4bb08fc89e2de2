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
from pydantic import ValidationError

from envs.instances import read_instances, select
from quorum import logs
from quorum.bench import BenchOptions, InstanceRecord, run_bench
from quorum.commands import solve_options as so
from quorum.errors import command_flags, fail
from quorum.models import default_models, endpoints_for
from quorum.paths import cache_dir
from sandbox.config import default_ca_bundle
from sandbox.errors import QuorumError


class ExecutorChoice(StrEnum):
    local = "local"
    ray = "ray"


def bench_command(
    ctx: typer.Context,
    dataset: Annotated[Path, typer.Option(help="SWE-bench instances (JSONL/JSON).")],
    out: Annotated[Path, typer.Option(help="Run folder; an existing one resumes.")],
    slice_: Annotated[
        str | None,
        typer.Option("--slice", help="START:STOP of the instances after the filters "
                     "(:10 is the first ten)."),
    ] = None,
    workers: Annotated[int, typer.Option(help="Instances at once.", min=1)] = 1,
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
    n: so.N = so.DEFAULTS["n"],
    rounds: so.Rounds = so.DEFAULTS["rounds"],
    test_writers: so.TestWriters = so.DEFAULTS["test_writers"],
    solver: so.Solver = so.DEFAULTS["solver"],
    budget_usd: so.BudgetUsd = so.DEFAULTS["budget_usd"],
    budget_usd_total: Annotated[
        float | None,
        typer.Option(min=0, help="Run-wide cap in USD: each instance starts capped at what is "
                     "left shared over the instances still to start (and --budget-usd); "
                     "survives a resume."),
    ] = None,
    budget_tokens: so.BudgetTokens = so.DEFAULTS["budget_tokens"],
    budget_usd_per_trajectory: so.BudgetUsdPerTrajectory = so.DEFAULTS[
        "budget_usd_per_trajectory"
    ],
    models: so.Models = so.DEFAULTS["models"],
    models_file: so.ModelsFile = so.DEFAULTS["models_file"],
    verifier_model: so.VerifierModel = so.DEFAULTS["verifier_model"],
    selection_agent: so.SelectionAgent = so.DEFAULTS["selection_agent"],
    probe_behaviour: so.ProbeBehaviour = so.DEFAULTS["probe_behaviour"],
    tournament: so.Tournament = so.DEFAULTS["tournament"],
    select_method: so.SelectMethod = so.DEFAULTS["select_method"],
    abstain_below: so.AbstainBelow = so.DEFAULTS["abstain_below"],
    concurrency: so.Concurrency = so.DEFAULTS["concurrency"],
    max_steps: so.MaxSteps = so.DEFAULTS["max_steps"],
    test_network: so.TestNetwork = so.DEFAULTS["test_network"],
    allocation: so.Allocation = so.DEFAULTS["allocation"],
    images: so.Images = so.IMAGES_DEFAULT,
    image_namespace: so.ImageNamespace = so.NAMESPACE_DEFAULT,
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
    skip_invalid: Annotated[
        bool,
        typer.Option(help="Leave out invalid lines of the dataset, naming each, instead of "
                     "stopping."),
    ] = False,
    log_json: so.LogJson = False,
) -> None:
    """Solve each instance with `quorum solve`'s pipeline, append to preds.jsonl as they
    finish, and report resolve rate, coverage, pass@k, selection accuracy and cost.
    With --executor ray, --workers caps the instances in flight across the cluster, and
    every node needs Quorum installed, the run folder at the same path, and the API keys
    exported where `ray start` ran."""
    shared = so.shared_values(locals())
    console = logs.setup(log_json)  # JSON lines with --log-json, progress included
    flags = command_flags(ctx.command)
    try:
        so.check_choices(shared)
        if ray_address and executor is not ExecutorChoice.ray:
            raise QuorumError("--ray-address needs --executor ray")
        data = read_instances(dataset, skip_invalid=skip_invalid)
        for note in data.notes():
            console.print(note, markup=False)
        instances = select(
            data.records,
            ids=instance_ids,
            filter_regex=filter_,
            slice=slice_,
        )
        bundle = default_ca_bundle()
        names = models or default_models(os.environ)
        options = BenchOptions(
            out=out, model_name="quorum+" + "+".join(names), workers=workers, grade=grade,
            mirror_dir=repo_mirror, images=so.image_source(images, image_namespace),
            image_namespace=image_namespace, executor=executor.value, ray_address=ray_address,
            budget_usd_total=budget_usd_total,
            solve=so.build_solve_options(**shared, ca_bundle=bundle),
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
                f"{verdict}{so_far}, spend ${spend:.4f}, {rate:.1f}/h", markup=False
            )
            bar(len(done))

        with (
            logs.progress_bar(console, len(instances), "instances") as bar,
            endpoints_for(
                names, os.environ, models_file=models_file, cache_dir=cache_dir(os.environ)
            ) as endpoints,
            endpoints_for(  # as in `quorum solve`: the verifier is an endpoint of its own
                [verifier_model] if verifier_model else [], os.environ,
                models_file=models_file, cache_dir=cache_dir(os.environ), logprobs=True,
            ) as judges,
        ):  # fmt: skip
            judge = judges[0] if judges else None
            if judge is not None and not judge.config.supports_logprobs:
                raise QuorumError(
                    f"--verifier-model {verifier_model} is not configured with logprobs",
                    hint="set supports_logprobs = true for it in the models file",
                )
            report = asyncio.run(run_bench(
                instances, endpoints, options, on_done=show,
                progress=lambda note: console.print(note, markup=False), verifier=judge,
            ))  # fmt: skip
    except (QuorumError, ValidationError) as exc:  # a bad value: the models refuse it
        raise fail(exc, console, flags) from exc
    hidden = ("resolved_ids", "instance_options")  # in bench_report.json
    print(json.dumps({k: v for k, v in report.items() if k not in hidden}))
