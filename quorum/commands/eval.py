"""`quorum eval`: grade predictions like the official SWE-bench harness, report included."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from envs.grading import GradeResult
from envs.instances import load_instances, select
from quorum.evaluate import EMPTY, GOLD, EvalOptions, evaluate, load_predictions
from quorum.evaluate import special_predictions as specials
from sandbox.config import default_ca_bundle
from sandbox.errors import QuorumError


def eval_command(
    predictions: Annotated[
        Path | None, typer.Argument(help="Predictions (JSONL/JSON: instance_id, model_patch).")
    ] = None,
    dataset: Annotated[Path, typer.Option(help="SWE-bench instances (JSONL/JSON).")] = ...,
    repo_mirror: Annotated[
        Path | None, typer.Option(help="Folder of bare clones named owner+name (offline).")
    ] = None,
    workers: Annotated[int, typer.Option(help="Instances graded at once.", min=1)] = 1,
    instance_ids: Annotated[
        list[str] | None, typer.Option("--instance-ids", help="Only these (repeatable).")
    ] = None,
    slice_: Annotated[
        str | None, typer.Option("--slice", help="START:STOP of the dataset.")
    ] = None,
    filter_: Annotated[
        str | None, typer.Option("--filter", help="Regex searched in instance ids.")
    ] = None,
    gold: Annotated[bool, typer.Option(help="Grade the gold patches (validates envs).")] = False,
    empty: Annotated[bool, typer.Option(help="Grade the empty patch (tests must fail).")] = False,
    out: Annotated[
        Path | None, typer.Option(help="Output folder (default runs/eval-TIME).")
    ] = None,
    timeout: Annotated[float, typer.Option(help="Seconds per test run.")] = 1800,
    network: Annotated[
        bool, typer.Option(help="Network in test containers (the official harness has it).")
    ] = True,
) -> None:
    """Grade predictions (or --gold / --empty) and write an official-format report.json."""
    console = Console(stderr=True)
    try:
        if sum([predictions is not None, gold, empty]) != 1:
            raise QuorumError("give exactly one of PREDICTIONS, --gold or --empty")
        instances = select(load_instances(dataset), ids=instance_ids, slice=slice_,
                           filter_regex=filter_)
        if predictions is not None:
            preds = load_predictions(predictions)
        else:
            preds = specials(instances, GOLD if gold else EMPTY)
        out = out or Path("runs") / f"eval-{time.strftime('%Y%m%d-%H%M%S')}"
        options = EvalOptions(out=out, mirror_dir=repo_mirror, workers=workers, timeout_s=timeout,
                              network=network,
                              ca_bundle=default_ca_bundle())
        todo = sum(1 for i in instances if i.instance_id in preds)
        console.print(f"grading {todo} instance(s) with {workers} worker(s) -> {out}")
        started, seen = time.monotonic(), {"done": 0, "resolved": 0}

        def show(result: GradeResult) -> None:
            seen["done"] += 1
            seen["resolved"] += result.resolved
            rate = seen["done"] / max(time.monotonic() - started, 1e-9) * 3600
            console.print(f"[{seen['done']}/{todo}] {result.instance_id}: {result.status} "
                          f"({result.duration_s:.0f}s) resolved so far {seen['resolved']}, "
                          f"{rate:.0f}/h")

        report = evaluate(instances, preds, options, allow_empty=empty, progress=show)
    except QuorumError as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(1) from exc
    summary = {k: v for k, v in report.items() if k.endswith("_instances")}
    print(json.dumps(summary))
    console.print(f"report: {out / 'report.json'}")
