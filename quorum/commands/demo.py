"""`quorum demo`: the whole pipeline on the bundled example, graded on hidden tests."""

from __future__ import annotations

import asyncio
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from agent.loop import AgentLimits
from agent.rollout import RolloutConfig
from envs.examples import DEMO, list_examples, materialize_example
from quorum.commands.solve_options import SOLVERS
from quorum.demo import SERVER_LOG, final_screen, grade_demo, record
from quorum.errors import fail
from quorum.live import SolveView
from quorum.models import default_models, endpoints_for
from quorum.paths import cache_dir
from quorum.sandboxes import sandbox_factory
from quorum.solve import SolveOptions, solve
from sandbox.errors import QuorumError

# The example's tests need pytest inside the sandbox; installed once, into the snapshot.
EXAMPLE_SETUP = ["pip install -q pytest"]


def demo_command(
    n: Annotated[int, typer.Option("-n", help="Trajectories.", min=1)] = 4,
    max_steps: Annotated[int, typer.Option(help="Steps per trajectory.", min=1)] = 12,
    model: Annotated[
        list[str] | None, typer.Option(help="Model(s); default: the embedded local model.")
    ] = None,
    models_file: Annotated[Path | None, typer.Option(help="TOML \\[models.NAME] settings.")] = None,
    solver: Annotated[
        str,
        typer.Option(help="agentless (default: the fixed pipeline the small embedded model "
                     "keeps to; in the agent loop it rarely produces a patch), auto (by "
                     "the model's size), agent, or mixed (they alternate)."),
    ] = "agentless",
    sandbox: Annotated[str, typer.Option(help="docker, or local (no isolation).")] = "docker",
    example: Annotated[
        str, typer.Option(help=f"Bundled example to solve: {', '.join(list_examples())}.")
    ] = DEMO,
    out: Annotated[Path | None, typer.Option(help="Run directory.")] = None,
    history: Annotated[
        Path, typer.Option(help="Where each demo run's grade is appended (JSONL).")
    ] = Path("runs/demo-history.jsonl"),
) -> None:
    """Solve the bundled example issue (a real bug in a small multi-file project) with N
    trajectories, select a patch or abstain, then grade every candidate on hidden tests that
    no agent saw. With the small embedded model a fix is a measurement, not a promise."""
    console = Console(stderr=True, highlight=False, soft_wrap=True)
    if solver not in SOLVERS:
        raise fail(QuorumError(f"--solver must be one of {', '.join(SOLVERS)}: {solver!r}"),
                   console)  # fmt: skip
    run_dir = out or Path("runs") / f"demo-{time.strftime('%Y%m%d-%H%M%S')}"
    try:
        task = materialize_example(example, run_dir / "repo")
        task = task.model_copy(update={"setup": EXAMPLE_SETUP})
        options = SolveOptions(
            rollout=RolloutConfig(n=n, concurrency=min(n, 4),
                                  limits=AgentLimits(max_steps=max_steps),
                                  solver=solver),  # type: ignore[arg-type]
            sandbox=sandbox,  # type: ignore[arg-type]
        )  # fmt: skip
        view = SolveView(console, None)
        console.print(f"demo: solving {task.id} in {run_dir}")
        names = model or default_models(os.environ)
        with (
            endpoints_for(
                names,
                os.environ,
                models_file=models_file,
                cache_dir=cache_dir(os.environ),
                progress=view.log,
                server_log=run_dir / SERVER_LOG,  # where the model's time went
            ) as endpoints,
            view,
        ):
            outcome = asyncio.run(
                solve(task, endpoints, options, run_dir / "run", events=view, progress=view.log)
            )
        console.print("grading every candidate on the hidden tests")
        with sandbox_factory(task, options.sandbox, run_id=f"{run_dir.name}-grade") as start:
            grade = grade_demo(task, outcome, start, server_log=run_dir / SERVER_LOG)
    except QuorumError as exc:
        raise fail(exc, console) from exc
    record(grade, history)
    # stdout: the one screen that says what happened (report.md has the whole evidence)
    Console(highlight=False, soft_wrap=True).print(final_screen(grade, run_dir / "run"),
                                                   markup=False, end="")
    console.print(f"this run's grade is appended to {history}")
