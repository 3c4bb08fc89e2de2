"""The candidate pool: candidates from run directories and from other systems' SWE-bench
prediction files, grouped by instance, deduplicated by normalised patch.

A prediction becomes a Candidate with id f"{source}:{instance_id}", where source is the
file's stem without `.preds` (stable across runs, unique while file names differ; a second
file with the same stem gets `#2`). Labels (`*.result.json`, the official `resolved` list)
are read by the metrics, never by a selector."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envs.candidate import Candidate
from envs.errors import LoadError
from envs.loader import load_records
from envs.predictions import read_predictions as load_predictions
from selection.normalize import full_file_id, normalised_id, parse_diff


class PoolError(LoadError):
    """A prediction file or run directory could not be read."""


def source_name(path: Path) -> str:
    name = path.name
    for suffix in (".jsonl", ".json"):
        name = name.removesuffix(suffix)
    return name.removesuffix(".preds").removesuffix(".result")


@dataclass
class PoolInput:
    """The candidates read from the sources, and what was left out of them, named by file
    and line (`--skip-invalid` lines, a run's truncated last line)."""

    candidates: list[Candidate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    skipped: int = 0


def read_predictions(path: Path, source: str | None = None) -> list[Candidate]:
    """SWE-bench predictions: JSONL lines, a JSON list, or a JSON object keyed by instance."""
    return _from_predictions(path, source, skip_invalid=False).candidates


def _from_predictions(path: Path, source: str | None, *, skip_invalid: bool) -> PoolInput:
    source = source or source_name(path)
    loaded = load_predictions(path, skip_invalid=skip_invalid, error=PoolError)
    candidates = [
        Candidate(
            id=f"{source}:{pred.instance_id}",
            task_id=pred.instance_id,
            patch=pred.model_patch,
            solver="external",
            model=pred.model_name_or_path or source,
        )
        for pred in loaded.records
    ]
    return PoolInput(candidates, loaded.notes(), len(loaded.skipped))


def read_run_dir(run_dir: Path) -> list[Candidate]:
    """candidates.jsonl of a Quorum run; a later line for the same id wins."""
    return _from_run_dir(run_dir, skip_invalid=False).candidates


def _from_run_dir(run_dir: Path, *, skip_invalid: bool) -> PoolInput:
    path = run_dir / "candidates.jsonl"
    if not path.is_file():
        raise PoolError(f"{run_dir} has no candidates.jsonl")
    loaded = load_records(
        path, Candidate, what="candidates file", error=PoolError, name_field="id",
        skip_invalid=skip_invalid, tolerate_truncated_tail=True,  # a run that crashed
    )  # fmt: skip
    found = {c.id: c for c in loaded.records}
    solvers = [c for c in found.values() if c.solver != "test_writer"]
    return PoolInput(solvers, loaded.notes(), len(loaded.skipped))


def load_sources(paths: Sequence[Path]) -> list[Candidate]:
    """Run directories and prediction files, in the order given; ids made unique."""
    return load_pool(paths).candidates


def load_pool(paths: Sequence[Path], *, skip_invalid: bool = False) -> PoolInput:
    """`load_sources`, with what was left out: with `skip_invalid`, invalid lines (else they
    are a PoolError naming file and line); always, a run's truncated last line."""
    out = PoolInput()
    seen_sources: dict[str, int] = {}
    for path in paths:
        if path.is_dir():
            part = _from_run_dir(path, skip_invalid=skip_invalid)
        else:
            stem = source_name(path)
            seen_sources[stem] = seen_sources.get(stem, 0) + 1
            if seen_sources[stem] > 1:
                stem = f"{stem}#{seen_sources[stem]}"
            part = _from_predictions(path, stem, skip_invalid=skip_invalid)
        out.candidates.extend(part.candidates)
        out.notes.extend(part.notes)
        out.skipped += part.skipped
    return out


class Group(BaseModel):
    """The candidates of one instance; `patch_keys` maps id -> normalised-patch key."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    candidates: list[Candidate]
    patch_keys: dict[str, str] = Field(default_factory=dict)
    vote_only: list[str] = Field(
        default_factory=list, description="ids that vote (patch majority) but are never chosen"
    )

    @property
    def solvers(self) -> list[Candidate]:
        """Candidates with a patch that changes code."""
        return [c for c in self.candidates if self.patch_keys.get(c.id)]

    @property
    def choosable(self) -> list[Candidate]:
        return [c for c in self.solvers if c.id not in self.vote_only]

    def clusters(self) -> dict[str, list[str]]:
        """normalised key -> candidate ids, in pool order (dedup: one run per key)."""
        out: dict[str, list[str]] = {}
        for c in self.solvers:
            out.setdefault(self.patch_keys[c.id], []).append(c.id)
        return out

    def representatives(self) -> list[Candidate]:
        """The first candidate of each normalised-patch cluster."""
        by_id = {c.id: c for c in self.candidates}
        return [by_id[ids[0]] for ids in self.clusters().values()]


def changed_sources(candidates: Sequence[Candidate]) -> list[str]:
    """Every path the candidates' patches touch, in first-seen order."""
    seen: dict[str, None] = {}
    for cand in candidates:
        for diff in parse_diff(cand.patch):
            seen.setdefault(diff.path, None)
    return list(seen)


def base_texts(
    candidates: Iterable[Candidate], read: Callable[[str], str | None]
) -> dict[str, str]:
    """The base text of every Python file the candidates change, for the full-file patch
    normalisation (`group_by_task(files_for=...)`): `read(path)` gives it, or None where
    the file is not in the base (a new file) or cannot be read."""
    texts = {p: read(p) for p in changed_sources(list(candidates)) if p.endswith(".py")}
    return {p: t for p, t in texts.items() if t is not None}


def group_by_task(
    candidates: Iterable[Candidate],
    files_for: Mapping[str, Mapping[str, str]] | None = None,
    vote_only_sources: Iterable[str] = (),
) -> dict[str, Group]:
    """Instance id -> its group. `files_for[task_id]` (base text of changed files), where
    given, switches patch keys to the full-file normalisation when every candidate of the
    task allows it (else all keep diff-level keys). Candidates whose id starts
    with f"{source}:" for a vote-only source add to the patch majority but are never
    chosen (e.g. an unlabelled submission in a labelled evaluation)."""
    groups: dict[str, Group] = {}
    voters = tuple(f"{s}:" for s in vote_only_sources)
    for cand in candidates:
        group = groups.setdefault(cand.task_id, Group(task_id=cand.task_id, candidates=[]))
        group.candidates.append(cand)
        if voters and cand.id.startswith(voters):
            group.vote_only.append(cand.id)
    for tid, group in groups.items():
        files = (files_for or {}).get(tid)
        full = {c.id: full_file_id(c.patch, files) for c in group.candidates} if files else {}
        whole = bool(full) and None not in full.values()  # one pool, one kind of key
        for cand in group.candidates:
            if not cand.patch.strip():
                group.patch_keys[cand.id] = ""
            else:
                group.patch_keys[cand.id] = full[cand.id] if whole else normalised_id(cand.patch)
    return groups
