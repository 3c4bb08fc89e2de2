"""Grade predictions on SWE-bench-format instances: build (or reuse) each instance's image,
grade its patch in a fresh sandbox, write per-instance logs and an official-format report.

Layout of `out/`: report.json, results.jsonl (one GradeResult a line, as instances
finish), instances/ID/{build.log, eval.log, test_output.txt, patch.diff, report.json}."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from envs.environment import EnvBuildError, EnvironmentBuilder
from envs.grading import ERROR_STATUSES, GradeResult, grade
from envs.instances import Instance
from envs.loader import Loaded
from envs.official_images import DEFAULT_NAMESPACE, ImageSource
from envs.predictions import Prediction, read_predictions
from sandbox.config import DockerSandboxConfig
from sandbox.errors import QuorumError
from sandbox.provider import DockerProvider

GOLD = "gold"
EMPTY = "empty"


class EvalOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: Path
    mirror_dir: Path | None = Field(None, description="bare clones by owner+name")
    workers: int = Field(1, ge=1)
    timeout_s: float = Field(1800, gt=0, description="per test run (and per install step)")
    ca_bundle: Path | None = Field(None, description="host CA bundle for pip in builds")
    cache_dir: Path | None = Field(None, description="cloned repositories (default: out)")
    network: bool = Field(False, description="network in the test container (`--test-network "
                          "bridge`, as the official harness has; connected machines only: a "
                          "few suites connect out, e.g. requests' httpbin.org tests)")
    images: ImageSource = Field("build", description="official, build or auto (envs."
                                "official_images)")
    namespace: str = Field(DEFAULT_NAMESPACE, description="registry/namespace of official images")


def load_predictions(path: Path) -> dict[str, dict]:
    """instance_id -> prediction, from JSONL, a JSON list, or a JSON dict keyed by id; any
    invalid line is an error naming it (`envs.predictions`)."""
    return predictions_by_id(read_predictions(path))


def predictions_by_id(loaded: Loaded[Prediction]) -> dict[str, dict]:
    return {p.instance_id: p.model_dump() for p in loaded.records}


def special_predictions(instances: Iterable[Instance], which: str) -> dict[str, dict]:
    """The gold patch or the empty patch for every instance (`--gold`, `--empty`)."""
    return {i.instance_id: {"instance_id": i.instance_id, "model_name_or_path": which,
                            "model_patch": i.patch if which == GOLD else ""}
            for i in instances}


def evaluate(instances: list[Instance], preds: dict[str, dict], options: EvalOptions, *,
             allow_empty: bool = False, progress: Callable[[GradeResult], None] | None = None,
             provider: DockerProvider | None = None,
             input_notes: Mapping[str, Any] | None = None) -> dict:
    """Grade every instance that has a prediction; return the report (also written).
    `input_notes` (lines skipped, unknown ids) join the report as they are."""
    out = options.out
    out.mkdir(parents=True, exist_ok=True)
    provider = provider or DockerProvider.connect(run_id=f"eval-{out.name}"[:40])
    builder = EnvironmentBuilder(provider, cache_dir=options.cache_dir or out / "cache",
                                 mirror_dir=options.mirror_dir, ca_bundle=options.ca_bundle,
                                 setup_timeout_s=options.timeout_s, images=options.images,
                                 namespace=options.namespace)
    todo = [i for i in instances if i.instance_id in preds]
    lock = threading.Lock()
    results: dict[str, GradeResult] = {}

    def one(inst: Instance) -> None:
        patch = preds[inst.instance_id].get("model_patch") or ""
        result = grade_instance(builder, inst, patch, options, allow_empty=allow_empty)
        (out / "instances" / inst.instance_id / "report.json").write_text(
            result.model_dump_json(indent=1))
        with lock:
            results[inst.instance_id] = result
            with (out / "results.jsonl").open("a") as f:
                f.write(result.model_dump_json() + "\n")
        if progress:
            progress(result)

    try:
        with ThreadPoolExecutor(max_workers=options.workers) as pool:
            list(pool.map(one, todo))
    finally:
        provider.close_all()
    report = {**official_report(instances, preds, results), **(input_notes or {})}
    (out / "report.json").write_text(json.dumps(report, indent=2))
    return report


def grade_instance(builder: EnvironmentBuilder, inst: Instance, patch: str,
                   options: EvalOptions, *, allow_empty: bool = False) -> GradeResult:
    log_dir = options.out / "instances" / inst.instance_id
    log_dir.mkdir(parents=True, exist_ok=True)
    if not patch.strip() and not allow_empty:
        (log_dir / "patch.diff").write_text("")
        return GradeResult(instance_id=inst.instance_id, status="empty_patch")
    try:
        prepared = builder.prepare(inst, log_dir / "build.log")
    except (EnvBuildError, QuorumError) as exc:
        return GradeResult(instance_id=inst.instance_id, status="env_error", detail=str(exc),
                           substituted=_attempted_substitution(builder, inst))
    spec = prepared.spec
    try:
        config = DockerSandboxConfig(image=prepared.image, network=options.network)
        with builder.provider.start(config) as sandbox:
            result = grade(sandbox, inst, spec, patch, log_dir=log_dir,
                           timeout_s=options.timeout_s, allow_empty=allow_empty)
    except QuorumError as exc:
        result = GradeResult(instance_id=inst.instance_id, status="error", detail=str(exc))
    return result.model_copy(update={"substituted": spec.substituted,
                                     "image_source": prepared.source})


def _attempted_substitution(builder: EnvironmentBuilder, inst: Instance) -> str:
    """What a build that failed would have substituted, so the report says a substituted
    environment failed and not only that one did (official images substitute nothing)."""
    if builder.images == "official":
        return ""
    try:
        return builder.spec_for(inst).substituted
    except QuorumError:
        return ""


def official_report(instances: list[Instance], preds: dict[str, dict],
                    results: dict[str, GradeResult]) -> dict:
    """The fields of swebench's run report (schema 2), plus Quorum's per-status detail."""
    by = {s: sorted(i for i, r in results.items() if r.status == s)
          for s in ("resolved", "unresolved", "empty_patch")}
    errors = sorted(i for i, r in results.items() if r.status in ERROR_STATUSES)
    completed = sorted(by["resolved"] + by["unresolved"])
    submitted = sorted(i for i in preds if i in {x.instance_id for x in instances})
    return {
        "total_instances": len(instances),
        "submitted_instances": len(submitted),
        "completed_instances": len(completed),
        "resolved_instances": len(by["resolved"]),
        "unresolved_instances": len(by["unresolved"]),
        "empty_patch_instances": len(by["empty_patch"]),
        "error_instances": len(errors),
        "completed_ids": completed,
        "incomplete_ids": sorted(set(submitted) - set(results)),
        "empty_patch_ids": by["empty_patch"],
        "submitted_ids": submitted,
        "resolved_ids": by["resolved"],
        "unresolved_ids": by["unresolved"],
        "error_ids": errors,
        "error_statuses": {i: results[i].status for i in errors},
        # Graded in an environment Quorum substituted (validated: gold resolves, empty not)
        "substituted_ids": sorted(i for i, r in results.items()
                                  if r.substituted and r.status not in ERROR_STATUSES),
        # Whose substituted environment failed to build or to validate (env_error)
        "substitution_failed_ids": sorted(i for i, r in results.items()
                                          if r.substituted and r.status in ERROR_STATUSES),
        # Graded in the harness's published image (`--images official|auto`)
        "official_image_ids": sorted(i for i, r in results.items()
                                     if r.image_source == "official"),
        "schema_version": 2,
    }
