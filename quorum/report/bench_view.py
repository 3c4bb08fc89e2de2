"""A bench's evidence as one pydantic view-model, built from its output directory alone.

Two layouts are read: `quorum bench --out` (bench.jsonl, bench_report.json, runs/ID/) and
`benchmarks/small_model_scaling.py --out` (results.json, SOLVER/TASK/). Every file is read
as plain JSON, field by field: what a bench of an earlier version (or one cut short) lacks
becomes `None` or an empty list, shown as "absent", never an exception.

coverage@k is the unbiased pass@k of the graded candidates (Chen et al. 2021, as
`quorum.bench.summarize` reports it); selected@k re-runs selection on sub-samples of each
instance's recorded candidates (`quorum.scaling`, as small_model_scaling.py does)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, ValidationError

from agent.redact import redact
from envs.candidate import Candidate, content_id
from envs.repos import read_at_commit
from quorum.bench import pass_at_k, without_bytecode
from quorum.report.allocation import build_allocation
from quorum.report.readers import _dict, _int, _num
from quorum.scaling import figures
from sandbox.errors import QuorumError
from selection.matrix import PassMatrix
from selection.metrics import ReliabilityRow, reliability
from selection.pool import base_texts, read_run_dir

BENCH_HTML = "bench_report.html"
THRESHOLDS = [round(i / 20, 2) for i in range(21)]  # 0, 0.05, ..., 1
SEED = 0


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InstanceRow(_Model):
    id: str
    repo: str
    status: str | None  # patch, abstained, error
    resolved: bool | None  # the selected patch; None: not graded
    candidates: int | None
    candidates_resolved: int | None  # None: not graded
    cost_usd: float | None
    tokens: int | None
    wall_s: float | None
    chosen: str | None
    confidence: float | None
    error: str | None
    report: str | None  # relative link to the instance's report.html
    allocation: str | None = None  # the policy (allocation.json); None: fixed or absent
    allocation_stopped: str | None = None  # why it stopped sampling early
    allocation_saved: int | None = None  # trajectories not started or cancelled
    allocation_planned: int | None = None
    run_dir: str | None  # relative to the bench directory


class ScalingPoint(_Model):
    k: int
    instances: int  # graded instances with at least k candidates and their evidence
    coverage: float  # sub-sampled, over the same instances as `selected`
    selected: float
    abstain: float
    wrong: float
    cost_usd: float | None  # mean spend of one instance sampling k candidates


class RepoRow(_Model):
    repo: str
    instances: int
    graded: int
    resolved: int
    covered: int  # some candidate resolved it
    abstained: int
    errors: int
    cost_usd: float

    @property
    def resolve_rate(self) -> float | None:
        return self.resolved / self.graded if self.graded else None


class BenchView(_Model):
    bench_dir: str
    layout: Literal["bench", "scaling"]
    model_name: str | None
    total_instances: int | None
    done_instances: int
    error_instances: int
    abstained_instances: int
    graded_instances: int
    resolved_instances: int | None
    resolve_rate: float | None
    coverage: float | None
    selection_accuracy: float | None
    cost_usd: float | None
    cost_usd_per_instance: float | None
    cost_usd_per_resolved: float | None
    tokens: int | None
    wall_s: float | None
    max_candidates: int
    pass_at_k: dict[int, float]
    scaling: list[ScalingPoint]
    reliability: list[ReliabilityRow]
    repositories: list[RepoRow]
    instances: list[InstanceRow]
    notes: list[str]


# -- reading, tolerantly -------------------------------------------------------------------
def _read_json(path: Path, notes: list[str], root: Path) -> Any:
    if not path.is_file():
        return None
    try:
        return json.loads(path.read_text(errors="replace"))
    except (OSError, ValueError) as exc:
        notes.append(f"{path.relative_to(root)} could not be read ({type(exc).__name__})")
        return None


def _jsonl(path: Path, notes: list[str], root: Path) -> list[dict[str, Any]]:
    out = []
    if not path.is_file():
        return out
    for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except ValueError:
            notes.append(f"{path.relative_to(root)} line {number} is not JSON (left out)")
            continue
        if isinstance(record, dict):
            out.append(record)
    return out



def _str(value: Any) -> str | None:
    return redact(value) if isinstance(value, str) else None




def _bools(value: Any) -> list[bool]:
    return [bool(v) for v in value] if isinstance(value, list) else []


def repo_of(instance_id: str, task: dict[str, Any]) -> str:
    """owner/name from a SWE-bench id (owner__name-123), else the task's repository name."""
    found = re.match(r"^(.+?)__(.+)-\d+$", instance_id)
    if found:
        return f"{found.group(1)}/{found.group(2)}"
    repo = _str(task.get("repo"))
    return Path(repo).name if repo else "absent"


# -- one instance's evidence ---------------------------------------------------------------
class _Instance:
    """What the report needs of one instance: its record, its run directory's selection,
    and (graded) its candidates' verdicts by id, for re-running selection."""

    def __init__(self, root: Path, iid: str, record: dict[str, Any], run_dir: Path,
                 notes: list[str]) -> None:  # fmt: skip
        self.root, self.id, self.record, self.run_dir = root, iid, record, run_dir
        self.notes = notes
        self.task = _dict(_read_json(run_dir / "task.json", notes, root))
        self.selection = _dict(_read_json(run_dir / "selection.json", notes, root))
        self.cost = _dict(_read_json(run_dir / "cost.json", notes, root))
        self.passed: dict[str, bool] | None = None  # candidate id -> resolved
        self.candidates: list[Candidate] = []

    def load_candidates(self) -> None:
        if not (self.run_dir / "candidates.jsonl").is_file():
            return
        try:
            cands = read_run_dir(self.run_dir)
        except (QuorumError, ValidationError, ValueError) as exc:
            self.notes.append(f"{self.id}: candidates.jsonl could not be read ({exc})")
            return
        self.candidates = [c for c in cands if c.solver != "test_writer"]

    def base_files(self) -> dict[str, str]:
        """The base text of the files the candidates change, where the task's repository is
        still on this machine (small_model_scaling.py's tasks/), for the same whole-file
        patch keys the run used; else none (diff-level keys)."""
        repo, commit = _str(self.task.get("repo")), _str(self.task.get("base_commit"))
        if not repo or not commit or not Path(repo).is_dir():
            return {}
        return base_texts(self.candidates, lambda p: read_at_commit(repo, commit, p))

    def matrix(self, name: str) -> PassMatrix | None:
        path = self.run_dir / name
        if not path.is_file():
            return None
        try:
            return PassMatrix.model_validate_json(path.read_text())
        except (OSError, ValidationError) as exc:
            self.notes.append(f"{self.id}: {name} could not be read ({type(exc).__name__})")
            return None


def _bench_instances(root: Path, notes: list[str]) -> tuple[list[_Instance], dict[str, Any]]:
    report = _dict(_read_json(root / "bench_report.json", notes, root))
    records: dict[str, dict[str, Any]] = {}
    for rec in _jsonl(root / "bench.jsonl", notes, root):
        iid = _str(rec.get("instance_id"))
        if iid:
            records[iid] = rec  # a later line for the same id wins, as resume reads it
    out = []
    for iid, rec in records.items():
        inst = _Instance(root, iid, rec, root / "runs" / iid, notes)
        verdicts = _bools(rec.get("candidate_resolved"))
        if rec.get("resolved") is not None or verdicts:
            inst.load_candidates()
            patches = _read_json(inst.run_dir / "candidate_patches.json", notes, root)
            by_patch: dict[str, bool] = {}
            if isinstance(patches, list) and len(patches) == len(verdicts):
                by_patch = {content_id(str(p)): v for p, v in zip(patches, verdicts, strict=True)}
            inst.passed = {c.id: by_patch[key] for c in inst.candidates
                           if (key := content_id(without_bytecode(c.patch))) in by_patch}
        out.append(inst)
    return out, report


def _scaling_instances(root: Path, notes: list[str]) -> tuple[list[_Instance], dict[str, Any]]:
    results = _dict(_read_json(root / "results.json", notes, root))
    grades = _dict(results.get("grades"))
    out = []
    for solver, per_task in grades.items():
        for task_id, passed in _dict(per_task).items():
            passed = {str(k): bool(v) for k, v in _dict(passed).items()}
            iid = task_id if len(grades) == 1 else f"{solver}/{task_id}"
            run_dir = root / solver / task_id
            inst = _Instance(root, iid, {}, run_dir, notes)
            inst.load_candidates()
            inst.candidates = [c for c in inst.candidates if c.id in passed]  # graded ones
            inst.passed = passed
            chosen = _str(inst.selection.get("chosen"))
            total = _dict(inst.cost.get("total"))
            inst.record = {
                "instance_id": iid, "status": "patch" if chosen else "abstained",
                "resolved": bool(chosen and passed.get(chosen)),
                "candidate_resolved": list(passed.values()), "candidates": len(passed),
                "cost_usd": total.get("usd"), "tokens": None,
            }  # fmt: skip
            out.append(inst)
    return out, {"wall_s": results.get("wall_s"), "total_instances": len(out)}


# -- building ------------------------------------------------------------------------------
def bench_layout(root: Path) -> Literal["bench", "scaling"] | None:
    if (root / "bench.jsonl").is_file() or (root / "bench_report.json").is_file():
        return "bench"
    if (root / "results.json").is_file():
        return "scaling"
    return None


def build_bench_view(root: Path) -> BenchView:
    notes: list[str] = []
    layout = bench_layout(root) or "bench"
    read = _scaling_instances if layout == "scaling" else _bench_instances
    instances, report = read(root, notes)
    rows = [_row(root, inst) for inst in instances]
    graded = [r for r in rows if r.resolved is not None or r.status == "error"]
    resolved = sum(bool(r.resolved) for r in graded)
    covered = sum(bool(r.candidates_resolved) for r in graded)
    costs = [r.cost_usd for r in rows if r.cost_usd is not None]
    cost = sum(costs) if costs else None
    verdicts = {i.id: _bools(i.record.get("candidate_resolved")) for i in instances}
    max_n = max((len(verdicts[r.id]) for r in graded), default=0)
    return BenchView(
        bench_dir=root.name,
        layout=layout,
        model_name=_model_name(root),
        total_instances=_int(report.get("total_instances")),
        done_instances=len(rows),
        error_instances=sum(r.status == "error" for r in rows),
        abstained_instances=sum(r.status == "abstained" for r in rows),
        graded_instances=len(graded),
        resolved_instances=resolved if graded else None,
        resolve_rate=resolved / len(graded) if graded else None,
        coverage=covered / len(graded) if graded else None,
        selection_accuracy=resolved / covered if covered else None,
        cost_usd=cost,
        cost_usd_per_instance=cost / len(rows) if cost is not None and rows else None,
        cost_usd_per_resolved=cost / resolved if cost is not None and resolved else None,
        tokens=sum(r.tokens for r in rows if r.tokens is not None) or None,
        wall_s=_num(report.get("wall_s")),
        max_candidates=max_n,
        pass_at_k={k: _mean_pass_at(graded, verdicts, k) for k in range(1, max_n + 1)},
        scaling=_scaling(instances, max_n),
        reliability=reliability(_outcomes(graded), THRESHOLDS),
        repositories=_repositories(rows),
        instances=rows,
        notes=notes,
    )


def _outcomes(graded: list[InstanceRow]) -> list[tuple[float | None, bool | None]]:
    """(confidence of the choice, None for an abstention; right?) of each graded instance
    that did not end in an error; a choice without a recorded confidence counts 0."""
    return [
        ((r.confidence if r.confidence is not None else 0.0), r.resolved) if r.chosen
        else (None, None)
        for r in graded if r.status != "error"
    ]  # fmt: skip


def _model_name(root: Path) -> str | None:
    path = root / "preds.jsonl"
    if not path.is_file():
        return None
    for line in path.read_text(errors="replace").splitlines():
        try:
            return _str(json.loads(line).get("model_name_or_path"))
        except (ValueError, AttributeError):
            return None
    return None


def _row(root: Path, inst: _Instance) -> InstanceRow:
    rec = inst.record
    verdicts = _bools(rec.get("candidate_resolved"))
    graded = rec.get("resolved") is not None or bool(verdicts)
    report = inst.run_dir / "report.html"
    has_run = inst.run_dir.is_dir()
    chosen = _str(inst.selection.get("chosen")) if inst.selection else None
    alloc = build_allocation(_read_json(inst.run_dir / "allocation.json", inst.notes, root),
                             _dict(_read_json(inst.run_dir / "options.json", inst.notes, root)),
                             [])  # fmt: skip
    return InstanceRow(
        id=inst.id,
        repo=repo_of(inst.id, inst.task),
        status=_str(rec.get("status")),
        resolved=bool(rec.get("resolved")) if graded else None,
        candidates=_int(rec.get("candidates")),
        candidates_resolved=sum(verdicts) if graded else None,
        cost_usd=_num(rec.get("cost_usd")),
        tokens=_int(rec.get("tokens")),
        wall_s=_num(rec.get("wall_s")),
        chosen=chosen,
        confidence=_num(inst.selection.get("confidence")) if inst.selection else None,
        error=_str(rec.get("error")) or None,
        report=report.relative_to(root).as_posix() if has_run else None,
        run_dir=inst.run_dir.relative_to(root).as_posix() if has_run else None,
        allocation=_str(alloc.policy) if alloc else None,
        allocation_stopped=_str(alloc.stopped) if alloc else None,
        allocation_saved=alloc.saved if alloc else None,
        allocation_planned=alloc.planned if alloc else None,
    )


def _mean_pass_at(graded: list[InstanceRow], verdicts: dict[str, list[bool]], k: int) -> float:
    """quorum.bench.summarize's pass@k: with fewer than k candidates, all were the tries."""
    total = 0.0
    for row in graded:
        v = verdicts.get(row.id, [])
        total += pass_at_k(len(v), sum(v), k) if len(v) >= k else float(any(v))
    return total / len(graded)


def scaling_ks(max_n: int) -> list[int]:
    """Powers of two up to the candidates sampled, and that number itself."""
    ks = [k for k in (1, 2, 4, 8, 16, 32, 64, 128) if k <= max_n]
    return [*ks, max_n] if max_n and max_n not in ks else ks


def _scaling(instances: list[_Instance], max_n: int) -> list[ScalingPoint]:
    ks = scaling_ks(max_n)
    per_k: dict[int, list[tuple[dict[str, float], float | None]]] = {k: [] for k in ks}
    for inst in instances:
        if not inst.passed or not inst.candidates:
            continue
        task_id = inst.candidates[0].task_id
        figs = figures(task_id, inst.candidates, inst.matrix("matrix.json"),
                       inst.matrix("regressions.json"), inst.passed, ks, SEED,
                       inst.base_files())  # fmt: skip
        for k in ks:
            if f"selected_at_{k}" in figs:
                per_k[k].append((figs, _cost_at(inst, k)))
    points = []
    for k, got in per_k.items():
        if not got:
            continue
        n = len(got)
        costs = [c for _, c in got if c is not None]
        points.append(ScalingPoint(
            k=k, instances=n,
            coverage=sum(f[f"coverage_at_{k}"] for f, _ in got) / n,
            selected=sum(f[f"selected_at_{k}"] for f, _ in got) / n,
            abstain=sum(f[f"abstain_at_{k}"] for f, _ in got) / n,
            wrong=sum(f[f"wrong_at_{k}"] for f, _ in got) / n,
            cost_usd=sum(costs) / len(costs) if len(costs) == n else None,
        ))  # fmt: skip
    return points


def _cost_at(inst: _Instance, k: int) -> float | None:
    """An instance's spend had it sampled k candidates: k times its mean candidate's cost,
    plus what the rest of the run cost (test writers, verifier, selection)."""
    total = _num(inst.record.get("cost_usd"))
    if total is None or not inst.candidates:
        return None
    per_candidate = [c.cost_usd for c in inst.candidates]
    overhead = max(total - sum(per_candidate), 0.0)
    return overhead + k * sum(per_candidate) / len(per_candidate)


def _repositories(rows: list[InstanceRow]) -> list[RepoRow]:
    by: dict[str, list[InstanceRow]] = {}
    for row in rows:
        by.setdefault(row.repo, []).append(row)
    out = []
    for repo, group in sorted(by.items()):
        graded = [r for r in group if r.resolved is not None or r.status == "error"]
        out.append(RepoRow(
            repo=repo, instances=len(group), graded=len(graded),
            resolved=sum(bool(r.resolved) for r in graded),
            covered=sum(bool(r.candidates_resolved) for r in graded),
            abstained=sum(r.status == "abstained" for r in group),
            errors=sum(r.status == "error" for r in group),
            cost_usd=sum(r.cost_usd or 0.0 for r in group),
        ))  # fmt: skip
    return out

