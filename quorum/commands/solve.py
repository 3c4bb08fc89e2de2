"""`quorum solve`: many trajectories, their tests, a selected patch or an abstention."""

from __future__ import annotations

import asyncio
import json
import os
import re
import time
from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from quorum import logs
from quorum.commands import solve_options as so
from quorum.errors import command_flags, fail, format_error, print_error
from quorum.live import SolveView
from quorum.models import default_models, endpoints_for
from quorum.paths import cache_dir
from quorum.solve import solve
from quorum.tasks import is_instance, resolve_task
from sandbox.errors import QuorumError

EXIT_PATCH, EXIT_ERROR, EXIT_ABSTAIN = 0, 1, 2


def solve_command(
    ctx: typer.Context,
    target: Annotated[
        str,
        typer.Argument(
            help="A local git repository, a GitHub issue URL, or a SWE-bench instance id "
            "(with --dataset)."
        ),
    ],
    issue: Annotated[str | None, typer.Option(help="The issue text (local repository).")] = None,
    issue_file: Annotated[
        Path | None, typer.Option(help="A file holding the issue (local repository).")
    ] = None,
    dataset: Annotated[
        Path | None, typer.Option(help="SWE-bench dataset file (JSONL/JSON) for an instance id.")
    ] = None,
    n: so.N = so.DEFAULTS["n"],
    rounds: so.Rounds = so.DEFAULTS["rounds"],
    test_writers: so.TestWriters = so.DEFAULTS["test_writers"],
    solver: so.Solver = so.DEFAULTS["solver"],
    budget_usd: so.BudgetUsd = so.DEFAULTS["budget_usd"],
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
    out: Annotated[
        Path | None,
        typer.Option(help="Run directory (default runs/<task>-<time>); an existing one resumes."),
    ] = None,
    sandbox: Annotated[str, typer.Option(help="docker, or local (no isolation).")] = "docker",
    allow_dirty: Annotated[
        bool, typer.Option(help="Accept uncommitted changes (they are not part of the task).")
    ] = False,
    github_api: Annotated[
        str | None, typer.Option(help="GitHub API base URL (GitHub Enterprise).")
    ] = None,
    repo_mirror: Annotated[
        Path | None, typer.Option(help="Directory of bare clones (owner+name) to clone from.")
    ] = None,
    images: so.Images = so.IMAGES_DEFAULT,
    image_namespace: so.ImageNamespace = so.NAMESPACE_DEFAULT,
    log_json: so.LogJson = False,
) -> None:
    """Solve an issue: N trajectories edit the repository in sandboxes and write tests,
    every patch runs every test, and the best-supported patch is printed — or Quorum
    abstains. Exit code 0 with a patch, 2 when abstaining, 1 on error."""
    shared = so.shared_values(locals())
    console = logs.setup(log_json)  # JSON lines with --log-json, progress included
    flags = command_flags(ctx.command)
    if sandbox not in ("docker", "local"):
        raise fail(QuorumError(f"--sandbox must be docker or local, not {sandbox!r}"), console)
    try:
        so.check_choices(shared)
        source = so.image_source(images, image_namespace, sandbox=sandbox,
                                 instance=is_instance(target, dataset))
    except QuorumError as exc:  # a refused choice: nothing to keep a run directory for
        raise fail(exc, console) from exc
    run_dir = out or Path("runs") / f"{_slug(target)}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "input.json").write_text(
        json.dumps({"target": target, "issue": issue, "issue_file": str(issue_file or ""),
                    "dataset": str(dataset or ""), "models": models, "n": n, "rounds": rounds},
                   indent=1)
    )  # fmt: skip
    try:
        task = resolve_task(
            target, issue=issue, issue_file=issue_file, dataset=dataset,
            allow_dirty=allow_dirty, workdir=cache_dir(os.environ) / "repos",
            environ=os.environ, github_api=github_api, repo_mirror=repo_mirror,
            sandbox=sandbox, log_dir=run_dir, images=source, image_namespace=image_namespace,
        )  # fmt: skip
        options = so.build_solve_options(**shared, sandbox=sandbox)
        names = models or default_models(os.environ)
        view = SolveView(console, budget_usd)
        with (
            endpoints_for(
                names,
                os.environ,
                models_file=models_file,
                cache_dir=cache_dir(os.environ),
                progress=view.log,
            ) as endpoints,
            endpoints_for(  # its own endpoint: the embedded verifier is a server of its own
                [verifier_model] if verifier_model else [],
                os.environ,
                models_file=models_file,
                cache_dir=cache_dir(os.environ),
                progress=view.log,
                logprobs=True,
            ) as judges,
            view,
        ):
            judge = judges[0] if judges else None
            if judge is not None and not judge.config.supports_logprobs:
                raise QuorumError(
                    f"--verifier-model {verifier_model} is not configured with logprobs",
                    hint="set supports_logprobs = true for it in the models file",
                )
            outcome = asyncio.run(
                solve(task, endpoints, options, run_dir, events=view, progress=view.log,
                      verifier=judge)
            )  # fmt: skip
    except (QuorumError, ValidationError) as exc:  # a bad option value: the models refuse it
        (run_dir / "error.txt").write_text(f"{type(exc).__name__}: {format_error(exc, flags)}\n")
        print_error(exc, console, flags)
        console.print(f"run directory: {run_dir}", markup=False)
        raise typer.Exit(EXIT_ERROR) from exc
    console.print((run_dir / "report.md").read_text(), markup=False)
    console.print(f"run directory: {run_dir}")
    if outcome.selection.abstained:
        raise typer.Exit(EXIT_ABSTAIN)
    typer.echo(outcome.patch, nl=False)  # stdout carries only the patch


def _slug(target: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", target.rstrip("/").split("/")[-1])[:40] or "task"
