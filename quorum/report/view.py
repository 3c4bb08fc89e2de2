"""A run's evidence as one plain view-model, built from the run directory alone.

Every file is read as plain JSON, field by field, never through the models that wrote it:
a run written by an earlier version (or cut short by a crash) lacks files and fields, and
what is missing becomes `None` — shown as "absent" — never an exception. Every string
passes through `agent.redact` once more on its way in: the trajectories were redacted when
saved, this is the safety net for whatever else a run directory holds."""

from __future__ import annotations

import json
import string
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent.redact import redact
from quorum.report.allocation import AllocationView, build_allocation
from quorum.report.behaviour import BehaviourView, TournamentView, build_behaviour, build_tournament
from quorum.report.readers import _dict, _int, _list, _num, _str
from sandbox.errors import QuorumError
from selection.matrix import ORIGINAL  # the unpatched repository's row

CALLERS = {  # ledger caller -> the name a reader knows it by
    "solver": "agent",
    "agent": "agent",
    "test_writer": "test writer",
    "verifier": "verifier",
    "selection_agent": "selection agent",
}
OBSERVATION_CHARS = 4000  # per step in the HTML; the whole text stays in trajectories/


# -- the view-model ------------------------------------------------------------------------
@dataclass
class DiffLine:
    kind: str  # add, del, hunk, meta, ctx
    text: str


@dataclass
class OwnTest:
    id: str | None
    path: str | None
    command: str | None
    content: str
    before: str | None  # pass, fail, or None (not run / absent)
    after: str | None
    output: str | None  # the tail of its run on the patched code (else the original)


@dataclass
class CandidateView:
    id: str
    solver: str | None
    model: str | None
    role: str  # solver or test_writer
    exit_status: str | None
    exit_reason: str | None
    steps: int | None
    tokens: int | None
    cost_usd: float | None
    cluster: str | None
    tests_passed: int | None
    tests_total: int | None
    regressions: int | None
    regressions_total: int | None
    verifier: float | None
    score: float | None
    chosen: bool
    has_patch: bool
    diff: list[DiffLine]
    added: int
    removed: int
    files: list[str]
    own_test: OwnTest | None
    patch_error: str | None
    recorded: bool = True  # False: known from its trajectory only (the run stopped first)


@dataclass
class Column:
    id: str
    label: str  # short: G1, G2 for generated tests; the node id for repository tests
    group: str  # generated or repository
    status: str  # evidence, no-evidence (passes unpatched), quarantined, repository
    title: str  # the long form, for a tooltip and the legend
    origin: str | None = None  # the trajectory that wrote it


@dataclass
class MatrixRow:
    id: str
    label: str
    cluster: str | None
    chosen: bool
    cells: list[tuple[str, str]]  # (state, tooltip) per column: pass fail error quarantined absent


@dataclass
class MatrixView:
    columns: list[Column]
    rows: list[MatrixRow]
    blocks: list[tuple[str | None, int]]  # (cluster, rows in it), in row order
    generated: int  # columns of generated tests (quarantined included)
    repository: int
    counts: dict[str, int]  # state -> cells

    @property
    def cell_count(self) -> int:
        return len(self.rows) * len(self.columns)


@dataclass
class SpendRow:
    name: str
    calls: int | None
    tokens: int | None
    usd: float | None
    share: float | None  # of the run's total spend, 0..1


@dataclass
class CostView:
    source: str  # cost.json, or spend.jsonl when the run never wrote cost.json
    usd: float | None
    tokens: int | None
    prompt_tokens: int | None
    cached_tokens: int | None
    completion_tokens: int | None
    calls: int | None
    cap_usd: float | None
    cap_tokens: int | None
    cap_trajectory_usd: float | None
    refusals: int | None
    lost_calls: int | None
    overruns: int | None
    by_caller: list[SpendRow]
    by_model: list[SpendRow]

    @property
    def of_cap(self) -> float | None:
        if self.usd is None or not self.cap_usd:
            return None
        return self.usd / self.cap_usd


@dataclass
class Outcome:
    state: str  # chosen, abstained, absent (no selection.json)
    chosen: str | None
    chosen_model: str | None
    confidence: float | None
    method: str | None
    rationale: str | None


@dataclass
class StepView:
    index: int | None
    thought: str
    tool: str | None
    action: str  # one line: what was called
    args: str  # the arguments, pretty
    observation: str
    format_error: str | None
    cost_usd: float | None
    tokens: int | None
    duration_s: float | None


@dataclass
class TrajectoryView:
    id: str
    model: str | None
    role: str | None
    temperature: float | None
    variant: str | None
    exit_status: str | None
    exit_reason: str | None
    cost_usd: float | None
    tokens: int | None
    duration_s: float | None
    steps: list[StepView]


@dataclass
class TimelineRow:
    id: str
    model: str | None
    role: str | None
    exit_status: str | None
    exit_reason: str | None
    left: float  # percent of the run's span
    width: float
    ticks: list[float]  # step ends, percent of the span
    duration_s: float | None
    steps: int


@dataclass
class RunView:
    run_dir: str
    task_id: str | None
    title: str | None
    issue: str | None
    repo: str | None
    base_commit: str | None
    url: str | None
    outcome: Outcome
    candidates: list[CandidateView]
    matrix: MatrixView | None
    cost: CostView | None
    timeline: list[TimelineRow]
    timeline_span_s: float | None
    trajectories: list[TrajectoryView]
    valid_tests: int | None
    files: dict[str, bool]  # the run directory's files: present or not
    notes: list[str] = field(default_factory=list)  # what could not be read, and why
    allocation: AllocationView | None = None  # allocation.json: absent under `fixed`
    behaviour: BehaviourView | None = None  # the probe calls' outcomes (selection.json)
    tournament: TournamentView | None = None  # the pairwise judge's matches

    @property
    def solvers(self) -> list[CandidateView]:
        return [c for c in self.candidates if c.role != "test_writer"]

    @property
    def chosen(self) -> CandidateView | None:
        return next((c for c in self.candidates if c.chosen), None)


# -- reading, tolerantly -------------------------------------------------------------------
class _Reader:
    def __init__(self, run_dir: Path) -> None:
        self.root = run_dir
        self.notes: list[str] = []
        self.files: dict[str, bool] = {}

    def json(self, name: str, path: Path | None = None) -> Any:
        if path is None:
            path = self.root / name
            self.files[name] = path.is_file()
        if not path.is_file():
            return None
        try:
            return _clean(json.loads(path.read_text(errors="replace")))
        except (OSError, ValueError) as exc:
            self.notes.append(f"{name} could not be read ({type(exc).__name__}: {exc})")
            return None

    def jsonl(self, name: str) -> list[dict[str, Any]] | None:
        path = self.root / name
        self.files[name] = path.is_file()
        if not path.is_file():
            return None
        records = []
        try:
            lines = path.read_text(errors="replace").splitlines()
        except OSError as exc:
            self.notes.append(f"{name} could not be read ({exc})")
            return None
        for number, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except ValueError:
                self.notes.append(f"{name} line {number} is not JSON (left out)")
                continue
            if isinstance(record, dict):
                records.append(_clean(record))
            else:
                self.notes.append(f"{name} line {number} is not an object (left out)")
        return records

    def directory(self, name: str) -> dict[str, Any]:
        """The JSON files of a sub-directory, by file stem."""
        folder = self.root / name
        self.files[name + "/"] = folder.is_dir()
        out = {}
        for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
            data = self.json(f"{name}/{path.name}", path)
            if isinstance(data, dict):
                out[path.stem] = data
        return out


def _clean(value: Any) -> Any:
    if isinstance(value, str):
        return redact(value)
    if isinstance(value, list):
        return [_clean(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _clean(v) for k, v in value.items()}
    return value


# -- building ------------------------------------------------------------------------------
def build_view(run_dir: Path, *, selection_file: Path | None = None) -> RunView:
    """The view of `run_dir`; `selection_file` replaces its selection.json (`quorum select
    --out` writes the new selection elsewhere)."""
    read = _Reader(run_dir)
    task = _dict(read.json("task.json"))
    selection = _selection(read.json("selection.json", selection_file), _str(task.get("id")))
    records = read.jsonl("candidates.jsonl")
    trajectories = read.directory("trajectories")
    tests = read.directory("tests")
    matrix = read.json("matrix.json")
    regress = read.json("regressions.json")
    options = _dict(read.json("options.json"))
    cost = _cost(_dict(read.json("cost.json")), read, options)

    by_id = _candidates(records or [], trajectories)
    clusters = _clusters(selection, by_id)
    matrix_d, regress_d = _matrix_data(matrix), _matrix_data(regress)
    evidence = _dict(selection.get("evidence")) if selection else {}
    valid = _valid_tests(matrix_d) if matrix_d else _int(evidence.get("n_valid_tests"))
    candidates = [
        _candidate(c, trajectories.get(c["id"]), selection, clusters, matrix_d, regress_d)
        for c in by_id.values()
    ]
    allocation = build_allocation(  # not listed among the files: a fixed run has none
        read.json("allocation.json", run_dir / "allocation.json"), options,
        [c.id for c in candidates if not c.recorded and c.role == "solver"])
    for cand in candidates:  # a trajectory the policy's stop cut short says so
        if allocation and cand.id in allocation.cancelled_ids:
            why = f"cancelled by the {allocation.policy} policy's stop: {allocation.stopped}"
            cand.exit_status = cand.exit_status or "cancelled"
            cand.exit_reason = f"{cand.exit_reason}; {why}" if cand.exit_reason else why
    view_matrix = _matrix_view(matrix_d, regress_d, tests, evidence, candidates, clusters)
    timeline, span = _timeline(trajectories, by_id)
    title = _title(_str(task.get("problem_statement")))
    return RunView(
        run_dir=run_dir.name,
        task_id=_str(task.get("id")) or (selection or {}).get("task_id"),
        title=title,
        issue=_str(task.get("problem_statement")),
        repo=_str(task.get("repo")),
        base_commit=_str(task.get("base_commit")),
        url=_str(task.get("url")),
        outcome=_outcome(selection, by_id),
        candidates=candidates,
        matrix=view_matrix,
        cost=cost,
        timeline=timeline,
        timeline_span_s=span,
        trajectories=[_trajectory(t) for t in _ordered(trajectories, by_id)],
        valid_tests=valid,
        files=read.files,
        notes=read.notes,
        allocation=allocation,
        behaviour=build_behaviour(evidence, clusters),
        tournament=build_tournament(evidence),
    )


def _selection(data: Any, task_id: str | None) -> dict[str, Any] | None:
    """selection.json: one Selection, or `quorum select`'s task id -> Selection map."""
    data = _dict(data)
    if not data:
        return None
    if "method" in data or "chosen" in data or "rationale" in data:
        return data
    picked = data.get(task_id or "") if task_id else None
    if picked is None and len(data) == 1:
        picked = next(iter(data.values()))
    return _dict(picked) or None


def _title(issue: str | None) -> str | None:
    for line in (issue or "").splitlines():
        if line.strip():
            return line.strip().lstrip("#").strip() or None
    return None


def _candidates(records: list[dict[str, Any]], trajectories: dict[str, Any]
                ) -> dict[str, dict[str, Any]]:  # fmt: skip
    """Candidates by id, a later line winning; a trajectory that never became a candidate
    (the run stopped first) is listed from its record."""
    out: dict[str, dict[str, Any]] = {}
    for record in records:
        cid = _str(record.get("id"))
        if cid:
            out[cid] = record
    for tid, traj in trajectories.items():
        spec = _dict(traj.get("spec"))
        cid = _str(spec.get("id")) or tid
        if cid not in out:
            out[cid] = {"id": cid, "solver": spec.get("solver"), "model": spec.get("model"),
                        "_role": spec.get("role"), "_from_trajectory": True}  # fmt: skip
    return out


def _clusters(selection: dict[str, Any] | None, by_id: dict[str, dict[str, Any]]
              ) -> dict[str, str]:  # fmt: skip
    """Candidate id -> cluster letter: selection's normalised-patch clusters, else equal
    patch texts; the chosen candidate's cluster is A."""
    groups: list[list[str]] = []
    evidence = _dict((selection or {}).get("evidence"))
    for group in _list(evidence.get("patch_clusters")):
        ids = [i for i in _list(group) if isinstance(i, str)]
        if ids:
            groups.append(ids)
    seen = {i for g in groups for i in g}
    by_patch: dict[str, list[str]] = {}
    for cid, rec in by_id.items():
        patch = _str(rec.get("patch")) or ""
        if cid not in seen and patch.strip():
            by_patch.setdefault(patch, []).append(cid)
    groups += list(by_patch.values())
    chosen = _str((selection or {}).get("chosen"))
    groups.sort(key=lambda g: chosen not in g)  # stable: the rest keep selection's order
    letters = _letters()
    return {cid: label for group, label in zip(groups, letters, strict=False) for cid in group}


def _letters() -> Iterable[str]:
    n = 0
    while True:
        q, r = divmod(n, 26)
        yield (string.ascii_uppercase[q - 1] if q else "") + string.ascii_uppercase[r]
        n += 1


@dataclass
class _Matrix:
    candidate_ids: list[str]
    test_ids: list[str]
    cells: dict[str, dict[str, dict[str, Any]]]
    patch_errors: dict[str, str]

    def cell(self, cid: str, tid: str) -> dict[str, Any] | None:
        got = self.cells.get(cid, {}).get(tid)
        return got if isinstance(got, dict) else None

    def passed(self, cid: str, tid: str) -> bool:
        return bool((self.cell(cid, tid) or {}).get("passed"))


def _matrix_data(data: Any) -> _Matrix | None:
    data = _dict(data)
    if not data:
        return None
    cells = {k: _dict(v) for k, v in _dict(data.get("cells")).items()}
    test_ids = [t for t in _list(data.get("test_ids")) if isinstance(t, str)]
    if not test_ids:  # an older writer: the tests are whatever the cells name
        test_ids = sorted({t for row in cells.values() for t in row})
    cids = [c for c in _list(data.get("candidate_ids")) if isinstance(c, str)] or list(cells)
    errors = {k: str(v) for k, v in _dict(data.get("patch_errors")).items()}
    return _Matrix(cids, test_ids, cells, errors)


def _valid_tests(m: _Matrix) -> int:
    return sum(not m.passed(ORIGINAL, t) for t in m.test_ids)


def _candidate(
    rec: dict[str, Any],
    traj: dict[str, Any] | None,
    selection: dict[str, Any] | None,
    clusters: dict[str, str],
    matrix: _Matrix | None,
    regress: _Matrix | None,
) -> CandidateView:
    cid = rec["id"]
    traj = traj or {}
    exit_ = _dict(traj.get("exit"))
    spec = _dict(traj.get("spec"))
    patch = _str(rec.get("patch"))
    signals = _dict((selection or {}).get("signals"))
    scores = _dict(rec.get("scores"))
    sel_scores = _dict((selection or {}).get("scores"))
    role = _str(rec.get("_role")) or _str(spec.get("role"))
    if role is None:
        role = "test_writer" if rec.get("solver") == "test_writer" else "solver"
    passed = total = None
    if matrix is not None and cid in matrix.cells:
        valid = [t for t in matrix.test_ids if not matrix.passed(ORIGINAL, t)]
        passed, total = sum(matrix.passed(cid, t) for t in valid), len(valid)
    elif _num(_dict(signals.get("tests")).get(cid)) is not None:
        passed = _int(_dict(signals.get("tests")).get(cid))
    broke = broke_total = None
    if regress is not None and cid in regress.cells:
        base = [t for t in regress.test_ids if regress.passed(ORIGINAL, t)]
        broke = sum(not regress.passed(cid, t) for t in base)
        broke_total = len(base)
    elif _num(_dict(signals.get("regressions")).get(cid)) is not None:
        broke = _int(_dict(signals.get("regressions")).get(cid))
    verifier = _num(_dict(signals.get("verifier")).get(cid))
    if verifier is None:
        verifier = _num(scores.get("verifier"))
    score = _num(sel_scores.get(cid))
    method = _str((selection or {}).get("method"))
    if score is None and method:
        score = _num(scores.get(method))
    diff, added, removed, files = _diff(patch or "")
    error = None
    for m in (matrix, regress):
        if m is not None and cid in m.patch_errors:
            error = m.patch_errors[cid]
    return CandidateView(
        id=cid,
        solver=_str(rec.get("solver")),
        model=_str(rec.get("model")) or _str(spec.get("model")),
        role=role,
        exit_status=_str(rec.get("exit_status")) or _str(exit_.get("status")),
        exit_reason=_str(exit_.get("reason")),
        steps=_int(rec.get("steps")) if "steps" in rec else _steps(traj),
        tokens=_int(rec.get("tokens")) if "tokens" in rec else _int(traj.get("tokens")),
        cost_usd=_num(rec.get("cost_usd")) if "cost_usd" in rec else _num(traj.get("cost_usd")),
        cluster=clusters.get(cid),
        tests_passed=passed,
        tests_total=total,
        regressions=broke,
        regressions_total=broke_total,
        verifier=verifier,
        score=score,
        chosen=cid == (selection or {}).get("chosen"),
        has_patch=bool((patch or "").strip()),
        diff=diff,
        added=added,
        removed=removed,
        files=files,
        own_test=_own_test(rec),
        patch_error=error,
        recorded=not rec.get("_from_trajectory"),
    )


def _steps(traj: dict[str, Any]) -> int | None:
    return len(traj["steps"]) if isinstance(traj.get("steps"), list) else None


def _diff(patch: str) -> tuple[list[DiffLine], int, int, list[str]]:
    lines, added, removed, files = [], 0, 0, []
    for text in patch.splitlines():
        if text.startswith("diff --git"):
            kind = "meta"
            files.append(text.split(" b/", 1)[-1] if " b/" in text else text[11:])
        elif text.startswith(("+++", "---", "index ", "new file", "deleted file", "similarity",
                              "rename ", "old mode", "new mode")):  # fmt: skip
            kind = "meta"
        elif text.startswith("@@"):
            kind = "hunk"
        elif text.startswith("+"):
            kind, added = "add", added + 1
        elif text.startswith("-"):
            kind, removed = "del", removed + 1
        else:
            kind = "ctx"
        lines.append(DiffLine(kind, text))
    return lines, added, removed, files


def _own_test(rec: dict[str, Any]) -> OwnTest | None:
    test = rec.get("test")
    if not isinstance(test, dict):
        return None

    def word(outcome: Any) -> str | None:
        outcome = _dict(outcome)
        if "passed" not in outcome:
            return None
        return "pass" if outcome["passed"] else "fail"

    after, before = _dict(rec.get("test_on_patched")), _dict(rec.get("test_on_original"))
    output = _str(after.get("output_tail")) or _str(before.get("output_tail"))
    return OwnTest(
        id=_str(test.get("id")),
        path=_str(test.get("path")),
        command=_str(test.get("command")),
        content=_str(test.get("content")) or "",
        before=word(before),
        after=word(after),
        output=output,
    )


def _matrix_view(
    matrix: _Matrix | None,
    regress: _Matrix | None,
    tests: dict[str, Any],
    evidence: dict[str, Any],
    candidates: list[CandidateView],
    clusters: dict[str, str],
) -> MatrixView | None:
    if matrix is None and regress is None:
        return None
    pool = _dict(evidence.get("test_pool"))
    flaky = [t for t in _list(pool.get("flaky")) if isinstance(t, str)]
    duplicates = set(_dict(pool.get("duplicates")))
    generated = list(matrix.test_ids) if matrix else []
    if not pool and matrix is not None:  # an older run: a saved test the matrix never ran
        flaky = [t for t in tests if t not in generated and t not in duplicates]
    flaky = [t for t in flaky if t not in generated]
    columns: list[Column] = []
    for n, tid in enumerate([*generated, *flaky], 1):
        test = _dict(tests.get(tid))
        if tid in flaky:
            status = "quarantined"
        elif matrix is not None and matrix.passed(ORIGINAL, tid):
            status = "no-evidence"
        else:
            status = "evidence"
        origin = _str(test.get("origin"))
        what = {"evidence": "fails unpatched: evidence", "no-evidence":
                "passes unpatched: not evidence", "quarantined": "flaky: quarantined"}[status]
        title = f"G{n} · test {tid}" + (f" by {origin}" if origin else "") + f" · {what}"
        columns.append(Column(tid, f"G{n}", "generated", status, title, origin))
    for tid in regress.test_ids if regress else []:
        columns.append(Column(tid, tid, "repository", "repository", f"repository test {tid}"))

    by_id = {c.id: c for c in candidates}
    ids: list[str] = []
    for m in (matrix, regress):
        for cid in m.candidate_ids if m else []:
            if cid != ORIGINAL and cid not in ids:
                ids.append(cid)
    order = sorted(ids, key=lambda c: (clusters.get(c) is None, len(clusters.get(c) or ""),
                                       clusters.get(c) or "", ids.index(c)))  # fmt: skip
    rows = [_row(ORIGINAL, "unpatched", None, False, columns, matrix, regress)]
    rows += [_row(cid, cid, clusters.get(cid), bool(by_id.get(cid) and by_id[cid].chosen),
                  columns, matrix, regress) for cid in order]  # fmt: skip
    blocks: list[tuple[str | None, int]] = [("unpatched", 1)]
    for row in rows[1:]:
        if blocks[-1][0] == row.cluster and len(blocks) > 1:
            blocks[-1] = (row.cluster, blocks[-1][1] + 1)
        else:
            blocks.append((row.cluster, 1))
    counts: dict[str, int] = {}
    for row in rows:
        for state, _ in row.cells:
            counts[state] = counts.get(state, 0) + 1
    return MatrixView(
        columns=columns,
        rows=rows,
        blocks=blocks,
        generated=len(generated) + len(flaky),
        repository=len(regress.test_ids) if regress else 0,
        counts=counts,
    )


def _row(
    cid: str,
    label: str,
    cluster: str | None,
    chosen: bool,
    columns: list[Column],
    matrix: _Matrix | None,
    regress: _Matrix | None,
) -> MatrixRow:
    cells = []
    for col in columns:
        source = regress if col.group == "repository" else matrix
        where = f"{label} × {col.label}"
        if col.status == "quarantined":
            cells.append(("quarantined", f"{where}: quarantined (flaky on the unpatched code)"))
            continue
        if source is not None and cid in source.patch_errors:
            cells.append(("error", f"{where}: error, the patch did not apply"))
            continue
        cell = source.cell(cid, col.id) if source else None
        if cell is None:
            cells.append(("absent", f"{where}: absent (not run)"))
        elif cell.get("timed_out") or cell.get("error"):
            why = "timed out" if cell.get("timed_out") else str(cell.get("error"))
            cells.append(("error", f"{where}: error ({why})"))
        else:
            state = "pass" if cell.get("passed") else "fail"
            cells.append((state, f"{where}: {state}"))
    return MatrixRow(cid, label, cluster, chosen, cells)


def _cost(data: dict[str, Any], read: _Reader, options: dict[str, Any]) -> CostView | None:
    caps = _dict(data.get("caps"))
    source = "cost.json"
    if not data:  # an older or interrupted run: add up the ledger's journal
        charges = read.jsonl("spend.jsonl")
        if not charges:
            return None
        data, source = _from_journal(charges), "spend.jsonl"
        caps = {"run_usd": options.get("budget_usd"), "run_tokens": options.get("budget_tokens"),
                "trajectory_usd": options.get("budget_usd_per_trajectory")}  # fmt: skip
    total = _dict(data.get("total"))
    usd = _num(total.get("usd"))

    def rows(table: Any) -> list[SpendRow]:
        out = []
        for name, spend in _dict(table).items():
            spend = _dict(spend)
            tokens = _tokens(spend)
            cost = _num(spend.get("usd"))
            share = cost / usd if cost is not None and usd else None
            out.append(SpendRow(name, _int(spend.get("calls")), tokens, cost, share))
        return sorted(out, key=lambda r: (-(r.usd or 0), r.name))

    by_caller = rows(data.get("by_caller"))
    for row in by_caller:
        row.name = CALLERS.get(row.name, row.name.replace("_", " "))
    return CostView(
        source=source,
        usd=usd,
        tokens=_tokens(total),
        prompt_tokens=_int(total.get("prompt_tokens")),
        cached_tokens=_int(total.get("cached_tokens")),
        completion_tokens=_int(total.get("completion_tokens")),
        calls=_int(total.get("calls")),
        cap_usd=_num(caps.get("run_usd")),
        cap_tokens=_int(caps.get("run_tokens")),
        cap_trajectory_usd=_num(caps.get("trajectory_usd")),
        refusals=_int(data.get("refusals")),
        lost_calls=_int(data.get("lost_calls")),
        overruns=_int(data.get("overruns")),
        by_caller=by_caller,
        by_model=rows(data.get("by_model")),
    )


def _tokens(spend: dict[str, Any]) -> int | None:
    prompt, completion = _int(spend.get("prompt_tokens")), _int(spend.get("completion_tokens"))
    if prompt is None and completion is None:
        return _int(spend.get("total_tokens"))
    return (prompt or 0) + (completion or 0)


def _from_journal(charges: list[dict[str, Any]]) -> dict[str, Any]:
    def add(table: dict[str, dict[str, Any]], key: str, charge: dict[str, Any]) -> None:
        row = table.setdefault(key, {"calls": 0, "prompt_tokens": 0, "cached_tokens": 0,
                                     "completion_tokens": 0, "usd": 0.0})  # fmt: skip
        row["calls"] += 1
        for name in ("prompt_tokens", "cached_tokens", "completion_tokens"):
            row[name] += _int(charge.get(name)) or 0
        row["usd"] += (_int(charge.get("pico_usd")) or 0) / 1e12

    total: dict[str, dict[str, Any]] = {}
    by_caller: dict[str, dict[str, Any]] = {}
    by_model: dict[str, dict[str, Any]] = {}
    for charge in charges:
        add(total, "all", charge)
        add(by_caller, str(charge.get("caller") or "?"), charge)
        add(by_model, str(charge.get("model") or "?"), charge)
    return {"total": total.get("all", {}), "by_caller": by_caller, "by_model": by_model,
            "lost_calls": sum(bool(c.get("lost")) for c in charges)}  # fmt: skip


def _outcome(selection: dict[str, Any] | None, by_id: dict[str, dict[str, Any]]) -> Outcome:
    if selection is None:
        return Outcome("absent", None, None, None, None, None)
    chosen = _str(selection.get("chosen"))
    return Outcome(
        state="chosen" if chosen else "abstained",
        chosen=chosen,
        chosen_model=_str(by_id.get(chosen or "", {}).get("model")),
        confidence=_num(selection.get("confidence")),
        method=_str(selection.get("method")),
        rationale=_str(selection.get("rationale")),
    )


def _ordered(trajectories: dict[str, Any], by_id: dict[str, dict[str, Any]]) -> list[Any]:
    order = list(by_id)
    return sorted(trajectories.values(),
                  key=lambda t: (_traj_id(t) not in order,
                                 order.index(_traj_id(t)) if _traj_id(t) in order else 0,
                                 _traj_id(t)))  # fmt: skip


def _traj_id(traj: dict[str, Any]) -> str:
    return _str(_dict(traj.get("spec")).get("id")) or ""


def _trajectory(traj: dict[str, Any]) -> TrajectoryView:
    spec, exit_ = _dict(traj.get("spec")), _dict(traj.get("exit"))
    start, end = _num(traj.get("started_at")), _num(traj.get("finished_at"))
    steps = []
    for step in _list(traj.get("steps")):
        step = _dict(step)
        tool = _str(step.get("tool"))
        args = _dict(step.get("args"))
        observation = _str(step.get("observation")) or ""
        if len(observation) > OBSERVATION_CHARS:
            cut = len(observation) - OBSERVATION_CHARS
            observation = observation[:OBSERVATION_CHARS] + f"\n… {cut} more characters"
        steps.append(StepView(
            index=_int(step.get("index")),
            thought=_str(step.get("thought")) or "",
            tool=tool,
            action=_action(tool, args),
            args=_args(args),
            observation=observation,
            format_error=_str(step.get("format_error")),
            cost_usd=_num(step.get("cost_usd")),
            tokens=_int(step.get("tokens")),
            duration_s=_num(step.get("duration_s")),
        ))  # fmt: skip
    return TrajectoryView(
        id=_traj_id(traj) or "?",
        model=_str(spec.get("model")),
        role=_str(spec.get("role")),
        temperature=_num(spec.get("temperature")),
        variant=_str(spec.get("prompt_variant")),
        exit_status=_str(exit_.get("status")) if exit_ else None,
        exit_reason=_str(exit_.get("reason")),
        cost_usd=_num(traj.get("cost_usd")),
        tokens=_int(traj.get("tokens")),
        duration_s=end - start if start and end and end >= start else None,
        steps=steps,
    )


def _action(tool: str | None, args: dict[str, Any]) -> str:
    if tool is None:
        return "no valid action"
    if tool == "bash" and isinstance(args.get("command"), str):
        return f"bash: {args['command']}"
    if tool == "edit":
        what = " ".join(str(args[k]) for k in ("command", "path") if isinstance(args.get(k), str))
        return f"edit: {what}" if what else "edit"
    if tool == "submit":
        return "submit" + (f": {args['summary']}" if isinstance(args.get("summary"), str) else "")
    first = next((v for v in args.values() if isinstance(v, str)), "")
    return f"{tool}: {first}" if first else tool


def _args(args: dict[str, Any]) -> str:
    """Arguments as a reader wants them: long texts (a file's new content) as they are."""
    parts = []
    for key, value in args.items():
        if isinstance(value, str) and "\n" in value:
            parts.append(f"{key}:\n{value.rstrip()}")
        else:
            parts.append(f"{key}: {json.dumps(value, ensure_ascii=False)}")
    return "\n".join(parts)


def _timeline(trajectories: dict[str, Any], by_id: dict[str, dict[str, Any]]
              ) -> tuple[list[TimelineRow], float | None]:  # fmt: skip
    timed = []
    for traj in _ordered(trajectories, by_id):
        start = _num(traj.get("started_at"))
        if not start:
            continue
        durations = [_num(_dict(s).get("duration_s")) or 0.0 for s in _list(traj.get("steps"))]
        end = _num(traj.get("finished_at")) or start + sum(durations)
        timed.append((traj, start, max(end, start), durations))
    if not timed:
        return [], None
    t0 = min(s for _, s, _, _ in timed)
    span = max(e for _, _, e, _ in timed) - t0 or 1.0
    rows = []
    for traj, start, end, durations in timed:
        spec, exit_ = _dict(traj.get("spec")), _dict(traj.get("exit"))
        ticks, at = [], start
        for d in durations:
            at = min(at + d, end)
            ticks.append(round(100 * (at - t0) / span, 2))
        rows.append(TimelineRow(
            id=_traj_id(traj) or "?",
            model=_str(spec.get("model")),
            role=_str(spec.get("role")),
            exit_status=_str(exit_.get("status")) if exit_ else None,
            exit_reason=_str(exit_.get("reason")),
            left=round(100 * (start - t0) / span, 2),
            width=max(round(100 * (end - start) / span, 2), 0.5),
            ticks=ticks,
            duration_s=end - start if traj.get("finished_at") else None,
            steps=len(durations),
        ))  # fmt: skip
    return rows, span


RUN_FILES = ("task.json", "candidates.jsonl", "selection.json", "trajectories", "matrix.json")


def check_run_dir(run_dir: Path) -> None:
    """Refuse a folder that is not a run directory (before anything renders it as empty)."""
    if not run_dir.is_dir():
        raise QuorumError(f"{run_dir}: no such run directory")
    if not any((run_dir / name).exists() for name in RUN_FILES):
        raise QuorumError(
            f"{run_dir} does not look like a run directory: it holds none of "
            f"{', '.join(RUN_FILES)}",
            hint="pass the directory `quorum solve --out` wrote (the demo's is its run/)",
        )
