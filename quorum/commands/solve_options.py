"""The options `quorum solve` and `quorum bench` share: every scaling, selection, budget
and test-network knob, declared once here (an Annotated type each) and turned into
`SolveOptions` by one builder. Both commands name their parameters as `SHARED` does, so a
flag has the same spelling, default and meaning in both: `-n` is trajectories per round,
`--budget-usd` the cap on one task's spend (one instance of a bench).

Typer reads a command's parameters from its signature, so each command lists the shared
names once more as parameters; `tests/quorum/test_solve_options.py` checks the two
commands' flags against `SHARED` and each other."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from agent.loop import AgentLimits
from agent.rollout import RolloutConfig
from envs.official_images import DEFAULT_NAMESPACE, IMAGE_SOURCES, ImageSource, check_namespace
from quorum.solve import SolveOptions
from sandbox.errors import QuorumError
from selection.hybrid import METHODS, SelectConfig

SOLVERS = ("auto", "agent", "agentless", "mixed")
TEST_NETWORKS = ("none", "bridge")
SELECT_METHODS = tuple(m for m in METHODS if m != "random")

N = Annotated[int, typer.Option("-n", "--trajectories", help="Trajectories per round.", min=1)]
Rounds = Annotated[int, typer.Option(help="Refinement rounds.", min=1)]
TestWriters = Annotated[int, typer.Option(help="Extra trajectories that only write tests.", min=0)]
Solver = Annotated[
    str,
    typer.Option(help="auto (the default: agentless for a model whose config says size = "
                 "\"small\", as the embedded model's does, the agent loop for the rest), "
                 "agent (tool-using loop), agentless (fixed pipeline, for small models), or "
                 "mixed (they alternate)."),
]  # fmt: skip
BudgetUsd = Annotated[
    float | None,
    typer.Option(help="Hard cap on one task's spend (in `quorum bench`: per instance)."),
]
BudgetTokens = Annotated[
    int | None, typer.Option(help="Hard cap on one task's tokens (per instance in bench).")
]
BudgetUsdPerTrajectory = Annotated[float | None, typer.Option(help="Hard cap per trajectory.")]
Models = Annotated[
    list[str] | None,
    typer.Option(
        "--model",
        help="Model name (repeatable; trajectories alternate). 'embedded' runs the bundled "
        "local model. Default: $QUORUM_MODEL, else embedded.",
    ),
]
ModelsFile = Annotated[
    Path | None, typer.Option(help="TOML file with \\[models.NAME] endpoint settings.")
]
VerifierModel = Annotated[
    str | None,
    typer.Option(
        help="Model for the execution-free verifier (needs logprobs; 'embedded' runs the "
        "bundled model); its YES/NO score joins the tests in selection."
    ),
]
SelectionAgent = Annotated[
    bool, typer.Option(help="Let the first model write tests to tell the top patches apart.")
]
ProbeBehaviour = Annotated[
    bool,
    typer.Option(help="Let the first model write probe calls that every distinct patch "
                 "runs: patches that behave alike vote as one fix."),
]  # fmt: skip
Tournament = Annotated[
    bool,
    typer.Option(help="Let the first model judge the behaviours pairwise, knockout style, "
                 "on the probe calls where they differ (both orders; implies "
                 "--probe-behaviour)."),
]  # fmt: skip
SelectMethod = Annotated[
    str, typer.Option(help=f"Selection: {', '.join(SELECT_METHODS)}.")
]
AbstainBelow = Annotated[
    float, typer.Option(help="Abstain when the winner's confidence is below this.")
]
Concurrency = Annotated[int, typer.Option(help="Trajectories at once (per task).", min=1)]
MaxSteps = Annotated[int, typer.Option(help="Steps per trajectory.", min=1)]
TestNetwork = Annotated[
    str,
    typer.Option(
        help="Network of the containers that run tests (generated tests, regressions, "
        "grading): none, or bridge as the official harness has (connected machines only)."
    ),
]
Allocation = Annotated[
    str,
    typer.Option(help="How many of the N trajectories to spend: fixed (all N at once), "
                 "consensus (2 at a time; stop once 2 agree on a fix passing every validated "
                 "test), adaptive (one at a time; also stop once the selector's answer passes "
                 "a test written outside its cluster and is backed by the verifier or by 2 "
                 "agreeing candidates)."),
]  # fmt: skip
# Not SolveOptions fields (so not in SHARED): solve, bench, eval and env each take them.
Images = Annotated[
    str,
    typer.Option(help="Images of SWE-bench instances: build (built here from the swebench "
                 "spec), official (the harness's published instance image, pulled from "
                 "--image-namespace; an instance without one is an environment error), auto "
                 "(official where the registry has it, else build). Official images get "
                 "the same history-free repository as built ones."),
]  # fmt: skip
ImageNamespace = Annotated[
    str,
    typer.Option(help="Registry and namespace of the official images, as the harness's "
                 "--namespace: swebench (Docker Hub), or e.g. localhost:5000/swebench."),
]  # fmt: skip


IMAGES_DEFAULT, NAMESPACE_DEFAULT = "build", DEFAULT_NAMESPACE


def image_source(value: str, namespace: str = DEFAULT_NAMESPACE, *, sandbox: str = "docker",
                 instance: bool = True) -> ImageSource:  # fmt: skip
    """`--images`' value, or a QuorumError naming the choices (or what is wrong with
    `--image-namespace`). Official images exist for SWE-bench instances in Docker only:
    asked for anywhere else (`instance` False: a local repository or a GitHub issue), the
    flag is refused rather than silently ignored."""
    if value not in IMAGE_SOURCES:
        raise QuorumError(f"--images must be official, build or auto, not {value!r}")
    check_namespace(namespace)
    if value != "build" and not (instance and sandbox == "docker"):
        where = "a local sandbox" if sandbox != "docker" else "a repository or GitHub issue"
        raise QuorumError(
            f"--images {value} applies to SWE-bench instances in Docker, not to {where}",
            hint="drop --images, or solve an instance id with --dataset and --sandbox docker",
        )
    return value  # type: ignore[return-value]


# Not a SolveOptions field (so not in SHARED): solve, bench, eval and select each take it.
LogJson = Annotated[
    bool,
    typer.Option("--log-json", help="Logs and progress on stderr as JSON lines, one object "
                 "a line (ts, level, logger, message, fields); secrets redacted."),
]  # fmt: skip


def build_solve_options(
    *,
    n: int = 4,
    rounds: int = 1,
    test_writers: int = 0,
    solver: str = "auto",
    budget_usd: float | None = None,
    budget_tokens: int | None = None,
    budget_usd_per_trajectory: float | None = None,
    models: list[str] | None = None,
    models_file: Path | None = None,
    verifier_model: str | None = None,
    selection_agent: bool = False,
    probe_behaviour: bool = False,
    tournament: bool = False,
    select_method: str = "cascade",
    abstain_below: float = 0.5,
    concurrency: int = 4,
    max_steps: int = 30,
    test_network: str = "none",
    allocation: str = "fixed",
    **fixed: Any,
) -> SolveOptions:
    """The shared options' values as SolveOptions; `fixed` are the command's own fields of
    it (`sandbox`, `ca_bundle`). `models`, `models_file` and `verifier_model` pick endpoints,
    which the command opens; they are parameters here so that `SHARED` names them too."""
    del models, models_file, verifier_model
    check_choices({"solver": solver, "select_method": select_method,
                   "test_network": test_network})  # fmt: skip
    return SolveOptions(
        rollout=RolloutConfig(
            n=n, rounds=rounds, concurrency=concurrency, test_writers=test_writers,
            limits=AgentLimits(max_steps=max_steps), solver=solver,  # type: ignore[arg-type]
        ),
        budget_usd=budget_usd, budget_tokens=budget_tokens,
        budget_usd_per_trajectory=budget_usd_per_trajectory,
        selection_agent=selection_agent,
        probe_behaviour=probe_behaviour,
        tournament=tournament,
        selection=SelectConfig(method=select_method, threshold=abstain_below),  # type: ignore[arg-type]
        test_network=test_network,  # type: ignore[arg-type]
        allocation=allocation,  # type: ignore[arg-type]
        **fixed,
    )  # fmt: skip


def check_choices(values: Mapping[str, Any]) -> None:
    """Refuse a choice option's unknown value (QuorumError naming the flag)."""
    if values["solver"] not in SOLVERS:
        raise QuorumError(
            f"--solver must be auto, agent, agentless or mixed: {values['solver']!r}"
        )
    if values["select_method"] not in SELECT_METHODS:
        raise QuorumError(f"--select-method must be one of {', '.join(SELECT_METHODS)}")
    if values["test_network"] not in TEST_NETWORKS:
        raise QuorumError(
            f"--test-network must be none or bridge, not {values['test_network']!r}"
        )


_PARAMS = inspect.signature(build_solve_options).parameters
SHARED: tuple[str, ...] = tuple(
    name for name, p in _PARAMS.items() if p.kind is inspect.Parameter.KEYWORD_ONLY
)
DEFAULTS: dict[str, Any] = {name: _PARAMS[name].default for name in SHARED}


def shared_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The shared options among a command's parameter values (`locals()` at its start)."""
    return {name: values[name] for name in SHARED}
