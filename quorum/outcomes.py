"""Outcome tables: what an allocation simulator replays. One JSON line per instance: its
candidates in the order they were sampled, each with its grade (resolved or not), its row
over the validated tests, its patch cluster, the repository tests it breaks, its verifier
score and cost. Built from recorded run directories (`from_run_dir`, `from_bench_dir`) or
generated (quorum/synthetic.py); read through envs.loader (FILE:LINE errors)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envs.candidate import content_id
from envs.errors import LoadError
from envs.loader import load_json, load_records
from selection.matrix import ORIGINAL, PassMatrix
from selection.normalize import normalised_id
from selection.pool import read_run_dir


class OutcomeTableError(LoadError):
    """An outcome table or a run directory it is built from could not be read."""


class OutcomeCandidate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: str
    resolved: bool | None = Field(None, description="passes the hidden tests; None: ungraded")
    cluster: str = Field("", description="normalised-patch key; '' = no code change")
    tests: dict[str, bool] = Field(
        default_factory=dict, description="validated test id -> passed with this patch")
    wrote: list[str] = Field(
        default_factory=list, description="validated tests it wrote (known once it finishes)")
    broken: int = Field(0, ge=0, description="repository tests it breaks")
    verifier: float | None = Field(None, ge=0, le=1)
    cost_usd: float = Field(0.0, ge=0)
    tokens: int = Field(0, ge=0)


class OutcomeInstance(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_id: str
    source: str = Field("", description="where it came from: a run directory, synthetic")
    given_tests: list[str] = Field(
        default_factory=list, description="validated tests known before sampling (writers)")
    regression_tests: int = Field(0, ge=0, description="repository tests passing on the base")
    overhead_usd: float = Field(0.0, ge=0, description="test writers and verifier, once")
    candidates: list[OutcomeCandidate] = Field(description="in the order sampled")


def read_table(path: Path) -> list[OutcomeInstance]:
    loaded = load_records(path, OutcomeInstance, what="outcome table", error=OutcomeTableError,
                          name_field="instance_id", unique=lambda r: r.instance_id)  # fmt: skip
    return list(loaded.records)


def write_table(instances: Iterable[OutcomeInstance], path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = [i.model_dump_json(exclude_defaults=True) for i in instances]
    path.write_text("".join(line + "\n" for line in lines))


def _matrix(path: Path) -> PassMatrix | None:
    if not path.is_file():
        return None
    return PassMatrix.model_validate(load_json(path, what="matrix", error=OutcomeTableError))


def from_run_dir(run_dir: Path, labels: Mapping[str, bool] | None = None,
                 source: str | None = None) -> OutcomeInstance:  # fmt: skip
    """One run directory (candidates.jsonl, matrix.json, regressions.json, cost.json) as a
    table line. `labels`: candidate id, or content id of its patch, -> resolved."""
    labels = labels or {}
    cands = read_run_dir(run_dir)
    if not cands:
        raise OutcomeTableError(f"{run_dir} has no solver candidates")
    repro = _matrix(run_dir / "matrix.json")
    regress = _matrix(run_dir / "regressions.json")
    valid = repro.valid_tests() if repro else []
    base_ok = [t for t in regress.test_ids if regress.passed(ORIGINAL, t)] if regress else []
    written = {c.test.id for c in cands if c.test is not None}
    rows = []
    for c in cands:
        grade = labels.get(c.id, labels.get(content_id(c.patch)))
        has_row = bool(regress and c.id in regress.cells)
        rows.append(OutcomeCandidate(
            id=c.id,
            resolved=grade if c.patch.strip() or grade is None else False,
            cluster=normalised_id(c.patch) if c.patch.strip() else "",
            tests={t: repro.passed(c.id, t) for t in valid} if repro and c.patch.strip() else {},
            wrote=[c.test.id] if c.test is not None and c.test.id in valid else [],
            broken=sum(not regress.passed(c.id, t) for t in base_ok) if has_row else 0,
            verifier=c.scores.get("verifier"),
            cost_usd=c.cost_usd,
            tokens=c.tokens,
        ))  # fmt: skip
    cost_file = run_dir / "cost.json"
    cost = load_json(cost_file, what="cost", error=OutcomeTableError) if cost_file.is_file() else {}
    total = float((cost.get("total") or {}).get("usd", 0.0)) if isinstance(cost, dict) else 0.0
    return OutcomeInstance(
        instance_id=cands[0].task_id,
        source=source or f"run {run_dir.name}",
        given_tests=[t for t in valid if t not in written],
        regression_tests=len(base_ok),
        overhead_usd=max(total - sum(c.cost_usd for c in cands), 0.0),
        candidates=rows,
    )


def _bench_records(bench_dir: Path) -> list[dict]:
    """bench.jsonl's finished records, a later line for the same id winning (as resume
    reads it); a last line cut short by a crash is not a finished instance."""
    path = bench_dir / "bench.jsonl"
    if not path.is_file():
        return []
    loaded = load_records(path, dict, what="bench results", error=OutcomeTableError,
                          tolerate_truncated_tail=True)  # fmt: skip
    return list({str(r.get("instance_id")): r for r in loaded.records}.values())


def _from_bench_record(bench_dir: Path, rec: dict) -> OutcomeInstance | None:
    run_dir = bench_dir / "runs" / str(rec.get("instance_id"))
    if not (run_dir / "candidates.jsonl").is_file():
        return None
    patches_file = run_dir / "candidate_patches.json"
    patches = (load_json(patches_file, what="candidate patches", error=OutcomeTableError)
               if patches_file.is_file() else [])  # fmt: skip
    verdicts = rec.get("candidate_resolved") or []
    labels = {content_id(p): bool(v) for p, v in zip(patches, verdicts, strict=False)}
    return from_run_dir(run_dir, labels, source=f"bench {bench_dir.name}")


def from_bench_dir(bench_dir: Path) -> list[OutcomeInstance]:
    """Every run of a `quorum bench --out DIR`, graded where the bench graded
    (bench.jsonl's candidate_resolved, aligned with runs/ID/candidate_patches.json)."""
    found = (_from_bench_record(bench_dir, rec) for rec in _bench_records(bench_dir))
    return [inst for inst in found if inst is not None]


def bench_outcomes(bench_dir: Path) -> tuple[list[OutcomeInstance], list[str]]:
    """`from_bench_dir` for the bench itself: an instance whose run cannot be read (no
    solver candidate, a damaged file) is left out with a note instead of failing."""
    table, notes = [], []
    for rec in _bench_records(bench_dir):
        try:
            inst = _from_bench_record(bench_dir, rec)
        except (LoadError, ValueError) as exc:  # ValueError: pydantic's, a malformed value
            notes.append(f"{rec.get('instance_id')} left out: {exc}")
            continue
        if inst is not None:
            table.append(inst)
    return table, notes
