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
from rich.console import Console

from agent.loop import AgentLimits
from agent.rollout import RolloutConfig
from quorum.live import SolveView
from quorum.models import default_models, endpoints_for
from quorum.paths import cache_dir
from quorum.solve import SolveOptions, solve
from quorum.tasks import resolve_task
from sandbox.errors import QuorumError
from selection.hybrid import METHODS, SelectConfig

EXIT_PATCH, EXIT_ERROR, EXIT_ABSTAIN = 0, 1, 2


def solve_command(
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
    n: Annotated[int, typer.Option("-n", help="Trajectories per round.", min=1)] = 4,
    rounds: Annotated[int, typer.Option(help="Refinement rounds.", min=1)] = 1,
    test_writers: Annotated[
        int, typer.Option(help="Extra trajectories that only write tests.", min=0)
    ] = 0,
    solver: Annotated[
        str,
        typer.Option(help="agent (tool-using loop), agentless (fixed pipeline, for small "
                     "models), or mixed (they alternate)."),
    ] = "agent",
    budget_usd: Annotated[float | None, typer.Option(help="Hard cap on the run's spend.")] = None,
    budget_tokens: Annotated[int | None, typer.Option(help="Hard cap on tokens.")] = None,
    budget_usd_per_trajectory: Annotated[
        float | None, typer.Option(help="Hard cap per trajectory.")
    ] = None,
    model: Annotated[
        list[str] | None,
        typer.Option(
            help="Model name (repeatable; trajectories alternate). 'embedded' runs the "
            "bundled local model. Default: $QUORUM_MODEL, else embedded."
        ),
    ] = None,
    models_file: Annotated[
        Path | None, typer.Option(help="TOML file with [models.NAME] endpoint settings.")
    ] = None,
    verifier_model: Annotated[
        str | None,
        typer.Option(
            help="Model for the execution-free verifier (needs logprobs; 'embedded' runs the "
            "bundled model); its YES/NO score joins the tests in selection."
        ),
    ] = None,
    selection_agent: Annotated[
        bool, typer.Option(help="Let the first model write tests to tell the top patches apart.")
    ] = False,
    select_method: Annotated[
        str, typer.Option(help="Selection: cascade, weighted, votes, verifier, agentless.")
    ] = "cascade",
    abstain_below: Annotated[
        float, typer.Option(help="Abstain when the winner's confidence is below this.")
    ] = 0.5,
    concurrency: Annotated[int, typer.Option(help="Trajectories at once.", min=1)] = 4,
    max_steps: Annotated[int, typer.Option(help="Steps per trajectory.", min=1)] = 30,
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
) -> None:
    """Solve an issue: N trajectories edit the repository in sandboxes and write tests,
    every patch runs every test, and the best-supported patch is printed — or Quorum
    abstains. Exit code 0 with a patch, 2 when abstaining, 1 on error."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if solver not in ("agent", "agentless", "mixed"):
        console.print(f"[red]error:[/red] --solver must be agent, agentless or mixed: {solver!r}")
        raise typer.Exit(EXIT_ERROR)
    if sandbox not in ("docker", "local"):
        console.print(f"[red]error:[/red] --sandbox must be docker or local, not {sandbox!r}")
        raise typer.Exit(EXIT_ERROR)
    if select_method not in METHODS or select_method == "random":
        console.print(f"[red]error:[/red] --select-method must be one of {', '.join(METHODS[:-1])}")
        raise typer.Exit(EXIT_ERROR)
    run_dir = out or Path("runs") / f"{_slug(target)}-{time.strftime('%Y%m%d-%H%M%S')}"
    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "input.json").write_text(
        json.dumps({"target": target, "issue": issue, "issue_file": str(issue_file or ""),
                    "dataset": str(dataset or ""), "models": model, "n": n, "rounds": rounds},
                   indent=1)
    )  # fmt: skip
    try:
        task = resolve_task(
            target, issue=issue, issue_file=issue_file, dataset=dataset,
            allow_dirty=allow_dirty, workdir=cache_dir(os.environ) / "repos",
            environ=os.environ, github_api=github_api, repo_mirror=repo_mirror,
            sandbox=sandbox, log_dir=run_dir,
        )  # fmt: skip
        options = SolveOptions(
            rollout=RolloutConfig(
                n=n, rounds=rounds, concurrency=concurrency, test_writers=test_writers,
                limits=AgentLimits(max_steps=max_steps), solver=solver,  # type: ignore[arg-type]
            ),
            budget_usd=budget_usd, budget_tokens=budget_tokens,
            budget_usd_per_trajectory=budget_usd_per_trajectory, sandbox=sandbox,  # type: ignore[arg-type]
            selection_agent=selection_agent,
            selection=SelectConfig(method=select_method, threshold=abstain_below),  # type: ignore[arg-type]
        )  # fmt: skip
        names = model or default_models(os.environ)
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
    except QuorumError as exc:
        (run_dir / "error.txt").write_text(f"{type(exc).__name__}: {exc}\n")
        console.print(f"[red]error:[/red] {exc}")
        console.print(f"run directory: {run_dir}")
        raise typer.Exit(EXIT_ERROR) from exc
    console.print((run_dir / "report.md").read_text(), markup=False)
    console.print(f"run directory: {run_dir}")
    if outcome.selection.abstained:
        raise typer.Exit(EXIT_ABSTAIN)
    typer.echo(outcome.patch, nl=False)  # stdout carries only the patch


def _slug(target: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", target.rstrip("/").split("/")[-1])[:40] or "task"
