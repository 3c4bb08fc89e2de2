"""Regression evidence for pooled predictions of SWE-bench instances (`quorum select
--regressions`): for each instance, its environment image (built once and shared with
`quorum eval` and `quorum solve`), the repository's own tests related to the files the
candidates change, run on the base twice (flaky tests quarantined) and once per distinct
normalised patch, in containers without network (unless `--test-network bridge`). The
runner is the repository's own (selection/regression_runners.py: Django's runtests.py,
sympy's bin/test) or pytest; an environment that would run pytest without having it gets
pytest added (`with_pytest`).

Benchmark metadata never reaches this code path: the gold patch, `test_patch`, FAIL_TO_PASS
and PASS_TO_PASS are blanked from each instance before anything is built or run.

Each instance's record is written to `OUT/ID.json` as soon as it is known (build log:
`OUT/ID.build.log`); a rerun reuses records that cover the same candidates and retries
environment failures. An instance whose environment cannot be built is reported and keeps
its patch-only signals. `--images official|auto` runs them in the harness's published
instance images instead of built ones (a build gets pytest added; an official image is
used as published)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from envs.environment import EnvironmentBuilder
from envs.instances import Instance
from envs.official_images import DEFAULT_NAMESPACE, ImageSource
from envs.specs import EnvSpec
from quorum.sandboxes import close_on_signals_if_main
from sandbox.config import DockerSandboxConfig
from sandbox.errors import QuorumError
from sandbox.provider import DockerProvider
from selection.matrix import ORIGINAL, PassMatrix
from selection.normalize import normalised_id
from selection.pool import Group, changed_sources
from selection.regression import related_tests_in, run_regressions
from selection.regression_runners import runner_for_repo

Status = Literal["ok", "no_related_tests", "one_patch", "not_in_dataset", "env_error", "error"]
REUSABLE = ("ok", "no_related_tests", "one_patch")


class RegressionOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    out: Path = Field(description="one record per instance: OUT/ID.json, OUT/ID.build.log")
    mirror_dir: Path | None = Field(None, description="bare clones by owner+name")
    ca_bundle: Path | None = Field(None, description="host CA bundle for pip in builds")
    cache_dir: Path = Field(description="repositories cloned or materialised for builds")
    timeout_s: float = Field(900, gt=0, description="one pytest run (base or patch)")
    setup_timeout_s: float = Field(1800, gt=0, description="one install step of a build")
    concurrency: int = Field(1, ge=1, description="test runs of one instance at once")
    max_files: int = Field(20, ge=1, description="related test files run, best first")
    single_patch: bool = Field(
        False, description="also run instances with one distinct choosable patch (the "
        "evidence can then only move the confidence, never the choice)")
    network: bool = Field(False, description="network in the test containers "
                          "(`--test-network bridge`; connected machines only)")
    images: ImageSource = Field("build", description="instance images: official, build, auto")
    image_namespace: str = Field(DEFAULT_NAMESPACE, description="where official images are")


class RegressionRecord(BaseModel):
    """What `--regressions` found for one instance; `matrix` is the evidence selection uses."""

    model_config = ConfigDict(extra="forbid")

    instance_id: str
    status: Status
    detail: str = ""
    patch_keys: dict[str, str] = Field(
        default_factory=dict, description="the choosable candidates: id -> normalised patch")
    patch_ids: dict[str, str] = Field(
        default_factory=dict, description="id -> hash of the patch text (empty in records "
        "written before it existed; their keys were diff-level)")
    test_files: list[str] = Field(default_factory=list)
    max_files: int = Field(20, description="the limit the test files were chosen under")
    image: str = ""
    image_source: Literal["official", "build", ""] = Field(
        "", description="where the image came from ('' in records of earlier versions, "
        "which built theirs)")
    matrix: PassMatrix | None = None
    wall_s: float = 0.0

    def covers(self, group: Group, options: RegressionOptions) -> bool:
        """Still valid: finished, for the same choosable candidates, none of which the
        current patch keys tell apart from a candidate the record ran for (and run, not
        skipped, where single patches are wanted now)."""
        if self.status not in REUSABLE or (self.status == "one_patch" and options.single_patch):
            return False
        if self.status != "one_patch":  # it ran tests: under the same limit and image kind
            if self.max_files != options.max_files:
                return False
            if options.images != "auto" and (self.image_source or "build") != options.images:
                return False
        ids = [c.id for c in group.choosable]
        if any(i not in self.patch_keys for i in ids):
            return False
        if self.patch_ids:
            same = all(self.patch_ids.get(c.id) == c.patch_id for c in group.choosable)
        else:
            same = all(self.patch_keys[c.id] == normalised_id(c.patch) for c in group.choosable)
        if not same:
            return False
        # Each run stood for the candidates sharing its key; that holds while no two of
        # them are told apart now (a coarser normalisation merging more is fine).
        now: dict[str, str] = {}
        return all(
            now.setdefault(self.patch_keys[i], group.patch_keys[i]) == group.patch_keys[i]
            for i in ids
        )

    def summary(self) -> str:
        if self.status == "ok" and self.matrix is not None:
            base = sum(self.matrix.passed(ORIGINAL, t) for t in self.matrix.test_ids)
            return (f"{len(self.test_files)} test file(s), {base} base-passing stable test(s), "
                    f"{self.wall_s:.0f}s")  # fmt: skip
        return f"{self.status}{': ' + self.detail if self.detail else ''}"


def without_hidden(instance: Instance) -> Instance:
    """The instance as selection may see it: no gold patch, no hidden tests."""
    return instance.model_copy(
        update={"patch": "", "test_patch": "", "fail_to_pass": [], "pass_to_pass": []}
    )


def with_pytest(spec: EnvSpec) -> EnvSpec:
    """Repositories without a runner of their own run under pytest (its JUnit XML names each
    test): a spec whose test command is not pytest gets pytest in its environment, an image
    of its own; pytest-run, Django and sympy repositories keep their grading image."""
    if not spec.supported or "pytest" in spec.test_cmd or runner_for_repo(spec.repo):
        return spec
    return spec.model_copy(update={"pip_packages": [*spec.pip_packages, "pytest"]})


def collect_regressions(
    groups: Mapping[str, Group],
    instances: Mapping[str, Instance],
    options: RegressionOptions,
    *,
    progress: Callable[[str], None] | None = None,
    provider: DockerProvider | None = None,
) -> dict[str, RegressionRecord]:
    """A record per group, instance by instance (one container at a time by default)."""
    say = progress or (lambda _m: None)
    options.out.mkdir(parents=True, exist_ok=True)
    records: dict[str, RegressionRecord] = {}
    provider = provider or DockerProvider.connect(run_id="select-regressions")
    builder = EnvironmentBuilder(provider, cache_dir=options.cache_dir,
                                 mirror_dir=options.mirror_dir, ca_bundle=options.ca_bundle,
                                 setup_timeout_s=options.setup_timeout_s,
                                 images=options.images,
                                 namespace=options.image_namespace)  # fmt: skip
    try:
        with close_on_signals_if_main(provider):
            for i, (tid, group) in enumerate(sorted(groups.items()), 1):
                path = record_path(options.out, tid)
                old = _load(path)
                if old is not None and old.covers(group, options):
                    records[tid] = old
                    say(f"[{i}/{len(groups)}] {tid}: reused ({old.summary()})")
                    continue
                say(f"[{i}/{len(groups)}] {tid}: ...")
                started = time.monotonic()
                record = _one(builder, provider, group, instances.get(tid), options)
                record.wall_s = time.monotonic() - started
                path.write_text(record.model_dump_json(indent=1))
                records[tid] = record
                say(f"[{i}/{len(groups)}] {tid}: {record.summary()}")
    finally:
        provider.close_all()
    return records


def _one(
    builder: EnvironmentBuilder,
    provider: DockerProvider,
    group: Group,
    instance: Instance | None,
    options: RegressionOptions,
) -> RegressionRecord:
    tid = group.task_id
    choosable = group.choosable
    ids = {c.id: group.patch_keys[c.id] for c in choosable}
    patch_ids = {c.id: c.patch_id for c in choosable}

    source = ""  # the image's source, once there is one

    def record(status: Status, **fields) -> RegressionRecord:
        return RegressionRecord(instance_id=tid, status=status, patch_keys=ids,
                                patch_ids=patch_ids, image_source=source,
                                **fields)  # fmt: skip

    if instance is None:
        return record("not_in_dataset")
    distinct = set(ids.values())
    if len(distinct) < 2 and not options.single_patch:
        return record("one_patch", detail=f"{len(distinct)} distinct choosable patch(es)")
    visible = without_hidden(instance)
    log = options.out / f"{_safe(tid)}.build.log"
    try:
        prepared = builder.prepare(visible, log, gold=instance, adjust=with_pytest)
    except QuorumError as exc:  # EnvBuildError included
        return record("env_error", detail=str(exc).splitlines()[0])
    spec, image = prepared.spec, prepared.image
    source = prepared.source
    config = DockerSandboxConfig(image=image, network=options.network)

    def start():
        return provider.start(config)

    try:
        with start() as box:
            files = related_tests_in(box, changed_sources(choosable), limit=options.max_files)
        if not files:
            return record("no_related_tests", image=image, max_files=options.max_files)
        matrix = asyncio.run(run_regressions(
            choosable, files, start, concurrency=options.concurrency,
            timeout_s=options.timeout_s, keys=group.patch_keys,
            runner=runner_for_repo(spec.repo, spec.test_cmd),
        ))  # fmt: skip
    except QuorumError as exc:
        return record("error", image=image, detail=str(exc).splitlines()[0])
    return record("ok", image=image, test_files=files, max_files=options.max_files,
                  matrix=matrix)


def _load(path: Path) -> RegressionRecord | None:
    if not path.is_file():
        return None
    try:
        return RegressionRecord.model_validate_json(path.read_text())
    except ValueError:
        return None  # cut short by a crash: recompute


def record_path(out: Path, task_id: str) -> Path:
    return out / f"{_safe(task_id)}.json"


def _safe(task_id: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_.+" else "_" for ch in task_id)
