"""`quorum select`: choose among existing candidates, offline: a run directory, or other
systems' SWE-bench prediction files pooled per instance. With labels, it prints selection
accuracy against a random pick and the oracle. With --regressions (and --dataset), each
instance's own repository tests near the change run on the base and on every distinct
patch (quorum.regressions), and the regression matrix joins the evidence exactly as a run
directory's regressions.json does."""

from __future__ import annotations

import asyncio
import json
import os
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from envs.candidate import Candidate
from envs.instances import Instance, read_instances
from envs.loader import load_document
from envs.predictions import unknown_ids
from envs.repos import find_mirror, is_local_path, read_at_commit
from envs.task import Task
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
from quorum.paths import cache_dir
from quorum.regressions import (
    RegressionOptions,
    RegressionRecord,
    collect_regressions,
    record_path,
)
from quorum.report import write_reports
from sandbox.config import default_ca_bundle
from sandbox.errors import QuorumError
from selection.hybrid import METHODS, SelectConfig
from selection.matrix import PassMatrix
from selection.metrics import evaluate, format_metrics, read_labels
from selection.pipeline import Evidence, RunOptions, select_run
from selection.pool import Group, base_texts, group_by_task, load_pool, read_run_dir
from selection.result import Selection
from selection.verifier import Verifier


def select_command(
    sources: Annotated[
        list[Path], typer.Argument(help="A run directory, or SWE-bench preds.jsonl/.json files.")
    ],
    method: Annotated[str, typer.Option(help=f"One of {', '.join(METHODS)}.")] = "cascade",
    labels: Annotated[
        list[Path] | None,
        typer.Option(help="Official evaluation file(s) (*.result.json) named like the preds."),
    ] = None,
    out: Annotated[
        Path | None, typer.Option(help="Output directory (default: the run directory, or .)")
    ] = None,
    threshold: Annotated[float, typer.Option(help="Abstain below this confidence.")] = 0.0,
    top_k: Annotated[int, typer.Option(help="Cascade: candidates kept by verifier.")] = 3,
    verifier_model: Annotated[
        str | None, typer.Option(help="Model for the execution-free verifier ('embedded' ok).")
    ] = None,
    dataset: Annotated[
        Path | None,
        typer.Option(help="SWE-bench JSONL: issues (verifier), repositories (--regressions)."),
    ] = None,
    limit: Annotated[int | None, typer.Option(help="Only the first N instances.")] = None,
    instances: Annotated[
        Path | None,
        typer.Option(help="A file of instance ids, one a line: only these.", exists=True,
                     dir_okay=False, readable=True),
    ] = None,
    seed: Annotated[int, typer.Option(help="Seed of the random method.")] = 0,
    vote_only: Annotated[
        list[str] | None,
        typer.Option(help="Source (file stem) whose candidates vote but are never chosen."),
    ] = None,
    regressions: Annotated[
        bool,
        typer.Option(help="Run each instance's own tests near the change on the base and "
                     "on every distinct patch (Docker; needs --dataset). Saved under "
                     "OUT/regressions/, reused by a rerun."),
    ] = False,
    repo_mirror: Annotated[
        Path | None, typer.Option(help="Folder of bare clones named owner+name (offline).")
    ] = None,
    regression_timeout: Annotated[
        float, typer.Option(help="Seconds per regression test run (base or patch).")
    ] = 900,
    regression_files: Annotated[
        int, typer.Option(help="Related test files run per instance, most related first.", min=1)
    ] = 20,
    regression_slack: Annotated[
        int, typer.Option(help="Cascade: keep candidates breaking up to this many more "
                          "repository tests than the fewest.", min=0)
    ] = SelectConfig().regression_slack,
    abstain_on_tie: Annotated[
        bool, typer.Option(help="Abstain where distinct fixes tie on every signal.")
    ] = False,
    regression_workers: Annotated[
        int, typer.Option(help="Test runs (containers) of one instance at once.", min=1)
    ] = 1,
    test_network: TestNetwork = DEFAULTS["test_network"],
    images: Images = IMAGES_DEFAULT,
    image_namespace: ImageNamespace = NAMESPACE_DEFAULT,
    skip_invalid: Annotated[
        bool,
        typer.Option(help="Leave out invalid lines of the prediction files, run "
                     "directories and dataset, naming each in the output and report, "
                     "instead of stopping."),
    ] = False,
    log_json: LogJson = False,
) -> None:
    """Select a candidate per instance (or abstain); writes selection.json and report.md.
    An invalid line stops it (`FILE:LINE: what is wrong`, exit 1) unless --skip-invalid."""
    console = logs.setup(log_json)  # JSON lines with --log-json, progress included
    if method not in METHODS:
        raise fail(QuorumError(f"--method must be one of {', '.join(METHODS)}"), console)
    try:
        check_choices({**DEFAULTS, "test_network": test_network})
        source = image_source(images, image_namespace)
        if source != "build" and not regressions:
            raise QuorumError(f"--images {source} is for the containers of --regressions",
                              hint="add --regressions (and --dataset), or drop --images")
        pool = load_pool(sources, skip_invalid=skip_invalid)
        candidates = pool.candidates
        if instances is not None:
            wanted = set(instances.read_text().split())
            candidates = [c for c in candidates if c.task_id in wanted]
        if limit is not None:
            first = set(sorted({c.task_id for c in candidates})[:limit])
            candidates = [c for c in candidates if c.task_id in first]
        data = read_instances(dataset, skip_invalid=skip_invalid) if dataset else None
        known = {i.instance_id: i for i in data.records} if data else {}
        notes = pool.notes + (data.notes() if data else [])
        if data is not None:
            unknown = unknown_ids({c.task_id for c in candidates}, known)
            if unknown:
                notes.append(f"{len(unknown)} instance(s) not in the dataset {dataset} "
                             f"(no issue text, no repository): {', '.join(unknown)}")
        for note in notes:
            console.print(note, markup=False)
        files_for = _base_files(candidates, _repositories(sources, known), repo_mirror)
        groups = group_by_task(candidates, files_for, vote_only_sources=vote_only or ())
        console.print(f"select: {len(groups)} instance(s), {len(candidates)} candidate(s), "
                      f"method {method}", markup=False)  # fmt: skip
        config = SelectConfig(
            method=method,
            threshold=threshold,
            top_k=top_k,
            seed=seed,  # type: ignore[arg-type]
            abstain_on_disagreement=threshold > 0,
            regression_slack=regression_slack,
            abstain_on_tie=abstain_on_tie,
        )
        if regressions and dataset is None:
            raise QuorumError("--regressions needs --dataset (the instances' repositories)")
        issues = {tid: inst.problem_statement for tid, inst in known.items()}
        target = out or (sources[0] if len(sources) == 1 and sources[0].is_dir() else Path("."))
        evidence = _run_evidence(sources, groups)
        records: dict[str, RegressionRecord] = {}
        runs: dict[str, dict] = {}  # task id -> how its regression evidence was got
        if regressions:
            options = RegressionOptions(
                out=target / "regressions", mirror_dir=repo_mirror,
                ca_bundle=default_ca_bundle(), cache_dir=cache_dir(os.environ) / "instances",
                timeout_s=regression_timeout, max_files=regression_files,
                concurrency=regression_workers, single_patch=threshold > 0,
                network=test_network == "bridge", images=source,
                image_namespace=image_namespace,
            )  # fmt: skip
            records = _regressions(groups, known, options, console)
            for tid, record in records.items():
                if record.matrix is not None:
                    evidence.setdefault(tid, {})["regress"] = record.matrix
                runs[tid] = {
                    "status": record.status, "detail": record.detail,
                    "test_files": record.test_files,
                    "record": str(record_path(options.out, tid).relative_to(target)),
                }  # fmt: skip
        selections = asyncio.run(
            _select_all(groups, config, verifier_model, issues, console,
                        {tid: Evidence(**evidence.get(tid, {}), base_files=files_for.get(tid))
                         for tid in groups}, vote_only or ())
        )  # fmt: skip
        for tid, run in runs.items():
            selections[tid].evidence["regression_run"] = run
        label_map: dict[str, bool] = {}
        for path in labels or []:
            label_map.update(read_labels(path, groups))
    except QuorumError as exc:
        raise fail(exc, console) from exc
    target.mkdir(parents=True, exist_ok=True)
    if len(sources) == 1 and sources[0].is_dir() and len(selections) == 1:
        next(iter(selections.values())).save(target / "selection.json")  # as solve writes it
        write_reports(sources[0], out_dir=target, selection_file=target / "selection.json")
    else:
        payload = {tid: s.model_dump(mode="json") for tid, s in sorted(selections.items())}
        (target / "selection.json").write_text(json.dumps(payload, indent=1))
    chosen = sum(not s.abstained for s in selections.values())
    lines = [f"# Selection ({method})", "", f"instances: {len(selections)}, chosen: {chosen}, "
             f"abstained: {len(selections) - chosen}", ""]  # fmt: skip
    if notes:
        lines += [f"left out or unknown ({len(notes)}):", *(f"- {n}" for n in notes), ""]
    if records:
        lines += [_regression_summary(records), ""]
    if label_map:
        lines += list(format_metrics(evaluate(groups, selections, label_map), method))
    report = "\n".join(lines) + "\n"
    (target / "selection-report.md").write_text(report)
    typer.echo(report, nl=False)
    if len(selections) == 1:
        only = next(iter(selections.values()))
        typer.echo(only.rationale)


def _repositories(
    sources: list[Path], known: dict[str, Instance]
) -> dict[str, tuple[str, str]]:
    """Task id -> (repository, base commit): the dataset's, a run directory's task.json."""
    found = {tid: (inst.repo, inst.base_commit) for tid, inst in known.items()}
    for source in sources:
        if source.is_dir() and (source / "task.json").is_file():
            task = load_document(source / "task.json", Task, what="run's task", fmt="json")
            if task.base_commit:
                found.setdefault(task.id, (task.repo, task.base_commit))
    return found


def _base_files(
    candidates: list[Candidate], repos: dict[str, tuple[str, str]], mirror: Path | None
) -> dict[str, dict[str, str]]:
    """Task id -> base text of the Python files its candidates change, read from the task's
    repository at its base commit (a local path or a mirror), so that patch keys compare
    whole files; tasks without a readable repository keep diff-level keys."""
    by_task: dict[str, list[Candidate]] = {}
    for cand in candidates:
        by_task.setdefault(cand.task_id, []).append(cand)
    out: dict[str, dict[str, str]] = {}
    for tid, cands in by_task.items():
        if tid not in repos:
            continue
        name, commit = repos[tid]
        if is_local_path(name):
            repo: Path | None = Path(name).expanduser()
        else:
            repo = find_mirror(mirror, name) if mirror else None
        if repo is None or not repo.exists():
            continue
        out[tid] = base_texts(cands, lambda p, r=repo, c=commit: read_at_commit(r, c, p))
    return out


def _run_evidence(
    sources: list[Path], groups: dict[str, Group]
) -> dict[str, dict[str, PassMatrix]]:
    """Task id -> a run directory's saved matrices (matrix.json, regressions.json): its
    selection is re-run offline on the same execution evidence."""
    found: dict[str, dict[str, PassMatrix]] = {}
    for source in sources:
        if not source.is_dir():
            continue
        tasks = {c.task_id for c in read_run_dir(source)} & set(groups)
        for key, name in (("repro", "matrix.json"), ("regress", "regressions.json")):
            path = source / name
            if path.is_file():
                matrix = load_document(path, PassMatrix, what="run's matrix", fmt="json")
                for tid in tasks:
                    found.setdefault(tid, {})[key] = matrix
    return found


def _regressions(
    groups: dict[str, Group], instances: dict[str, Instance], options: RegressionOptions,
    console: Console,
) -> dict[str, RegressionRecord]:
    console.print(f"regression tests for {len(groups)} instance(s) -> {options.out}")
    started = time.monotonic()
    records = collect_regressions(groups, instances, options, progress=console.print)
    console.print(f"regression tests: {time.monotonic() - started:.0f}s")
    return records


def _regression_summary(records: dict[str, RegressionRecord]) -> str:
    by: dict[str, list[str]] = {}
    for tid, record in sorted(records.items()):
        by.setdefault(record.status, []).append(tid)
    parts = [f"{len(v)} {k}" for k, v in sorted(by.items())]
    failed = by.get("env_error", []) + by.get("error", []) + by.get("not_in_dataset", [])
    text = f"regression tests: {', '.join(parts)}"
    if failed:
        text += f" (patch-only signals for: {', '.join(failed)})"
    return text


async def _select_all(
    groups: dict[str, Group], config: SelectConfig, verifier_model: str | None,
    issues: dict[str, str], console: Console, evidence: dict[str, Evidence],
    vote_only: list[str] | tuple[str, ...],
) -> dict[str, Selection]:
    """Each instance through selection.pipeline.select_run, offline: no sandbox, the
    matrices and base files found or built above."""
    options = RunOptions(selection=config)

    async def one(tid: str, verifier: Verifier | None = None) -> Selection:
        run = await select_run(
            tid, groups[tid].candidates, [], None, issues.get(tid, ""), options,
            known=evidence[tid], vote_only_sources=vote_only, verifier=verifier,
        )  # fmt: skip
        return run.selection

    if not verifier_model:
        return {tid: await one(tid) for tid in groups}
    from agent.llm import BudgetCaps, Ledger, LLMClient
    from quorum.models import endpoints_for
    from selection.verifier import EndpointVerifier

    out: dict[str, Selection] = {}
    with endpoints_for([verifier_model], os.environ, cache_dir=cache_dir(os.environ),
                       progress=console.print, logprobs=True) as endpoints:  # fmt: skip
        async with LLMClient(endpoints[0], Ledger(BudgetCaps())) as client:
            verifier = EndpointVerifier(client, concurrency=1)
            for i, tid in enumerate(sorted(groups), 1):
                console.print(f"[{i}/{len(groups)}] {tid}")
                out[tid] = await one(tid, verifier)
    return out
