"""`quorum eval`: grade predictions like the official SWE-bench harness, report included."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from envs.grading import GradeResult
from envs.instances import read_instances, select
from envs.predictions import read_predictions, unknown_ids
from quorum import logs
from quorum.commands.solve_options import (
    DEFAULTS,
    IMAGES_DEFAULT,
    NAMESPACE_DEFAULT,
    ImageNamespace,
    Images,
    LogJson,
    TestNetwork,
    check_choices,
    image_source,
)
from quorum.errors import fail
from quorum.evaluate import EMPTY, GOLD, EvalOptions, evaluate, predictions_by_id
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
    test_network: TestNetwork = DEFAULTS["test_network"],
    images: Images = IMAGES_DEFAULT,
    image_namespace: ImageNamespace = NAMESPACE_DEFAULT,
    skip_invalid: Annotated[
        bool,
        typer.Option(help="Leave out invalid lines of the predictions and the dataset, "
                     "naming each in the output and report.json, instead of stopping."),
    ] = False,
    log_json: LogJson = False,
) -> None:
    """Grade predictions (or --gold / --empty) and write an official-format report.json.
    An invalid line stops it (`FILE:LINE: what is wrong`, exit 1) unless --skip-invalid;
    predictions for instances the dataset does not hold are named and counted."""
    console = logs.setup(log_json)  # JSON lines with --log-json, progress included
    try:
        check_choices({**DEFAULTS, "test_network": test_network})
        source = image_source(images, image_namespace)
        if sum([predictions is not None, gold, empty]) != 1:
            raise QuorumError("give exactly one of PREDICTIONS, --gold or --empty")
        data = read_instances(dataset, skip_invalid=skip_invalid)
        skipped = data.notes()
        instances = select(data.records, ids=instance_ids, slice=slice_,
                           filter_regex=filter_)
        unknown: list[str] = []
        if predictions is not None:
            loaded = read_predictions(predictions, skip_invalid=skip_invalid)
            skipped += loaded.notes()
            preds = predictions_by_id(loaded)
            unknown = unknown_ids(preds, (i.instance_id for i in data.records))
            if preds and len(unknown) == len(preds):
                raise QuorumError(
                    f"none of the {len(preds)} prediction(s) in {predictions} is for an "
                    f"instance of {dataset} (e.g. {unknown[0]})",
                    hint="check that the predictions were made for this dataset",
                )
        else:
            preds = specials(instances, GOLD if gold else EMPTY)
        for note in skipped:
            console.print(note, markup=False)
        if unknown:
            console.print(f"{len(unknown)} prediction(s) for instances not in the dataset, "
                          f"not graded: {', '.join(unknown)}", markup=False)  # fmt: skip
        out = out or Path("runs") / f"eval-{time.strftime('%Y%m%d-%H%M%S')}"
        options = EvalOptions(out=out, mirror_dir=repo_mirror, workers=workers, timeout_s=timeout,
                              network=test_network == "bridge", images=source,
                              namespace=image_namespace, ca_bundle=default_ca_bundle())
        todo = sum(1 for i in instances if i.instance_id in preds)
        console.print(f"grading {todo} instance(s) with {workers} worker(s) -> {out}")
        started, seen = time.monotonic(), {"done": 0, "resolved": 0}

        def show(result: GradeResult) -> None:
            seen["done"] += 1
            seen["resolved"] += result.resolved
            rate = seen["done"] / max(time.monotonic() - started, 1e-9) * 3600
            console.print(f"[{seen['done']}/{todo}] {result.instance_id}: {result.status} "
                          f"({result.duration_s:.0f}s) resolved so far {seen['resolved']}, "
                          f"{rate:.0f}/h", markup=False)
            bar(seen["done"])

        notes = {"unknown_instances": len(unknown), "unknown_ids": unknown,
                 "skipped_lines": skipped}  # fmt: skip
        with logs.progress_bar(console, todo, "instances graded") as bar:
            report = evaluate(instances, preds, options, allow_empty=empty, progress=show,
                              input_notes=notes)  # fmt: skip
    except QuorumError as exc:
        raise fail(exc, console) from exc
    summary = {k: v for k, v in report.items() if k.endswith("_instances")}
    if skipped:
        summary["skipped_lines"] = len(skipped)
    print(json.dumps(summary))
    console.print(f"report: {out / 'report.json'}")
