"""Scaling figures from recorded candidates: for N < the candidates sampled, sub-sample them
(every N-subset when there are at most SUBSETS, else SUBSETS drawn with a fixed seed) and
re-run Quorum's selection on each subset, with only the tests its own candidates wrote.

The one place `benchmarks/small_model_scaling.py` and the bench report
(`quorum/report/bench_view.py`) compute coverage@N and selected@N."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Mapping, Sequence

from envs.candidate import Candidate
from selection.hybrid import SelectConfig
from selection.matrix import PassMatrix
from selection.pipeline import Evidence, RunOptions, select_run

SUBSETS = 70


def subsets(ids: list[str], n: int, rng: random.Random) -> list[tuple[str, ...]]:
    every = list(itertools.combinations(ids, n))
    return every if len(every) <= SUBSETS else rng.sample(every, SUBSETS)


def submatrix(matrix: PassMatrix, cands: list[Candidate], *, own_tests: bool) -> PassMatrix:
    """The matrix as a run with only these candidates would have built it: their rows,
    and (for generated tests) only the tests they wrote."""
    tests = {c.test.id for c in cands if c.test is not None}
    keep = [t for t in matrix.test_ids if t in tests] if own_tests else matrix.test_ids
    return matrix.model_copy(update={"candidate_ids": [c.id for c in cands], "test_ids": keep})


def select_from(task_id: str, cands: list[Candidate], repro: PassMatrix | None,
                regress: PassMatrix | None, files: Mapping[str, str],
                config: SelectConfig | None = None) -> str | None:  # fmt: skip
    """Quorum's choice among these candidates, as quorum.solve makes it (hybrid selection
    over the reproduction-test matrix and the repository's related tests; no verifier),
    through the same selection.pipeline.select_run, offline over the recorded matrices."""
    if not cands:
        return None
    known = Evidence(
        repro=submatrix(repro, cands, own_tests=True) if repro else None,
        regress=submatrix(regress, cands, own_tests=False) if regress else None,
        base_files=dict(files),
    )
    options = RunOptions(selection=config or SelectConfig())
    run = asyncio.run(select_run(task_id, cands, [], None, "", options, known=known))
    return run.selection.chosen


def figures(task_id: str, cands: Sequence[Candidate], matrix: PassMatrix | None,
            regress: PassMatrix | None, passed: Mapping[str, bool], ns: Sequence[int],
            seed: int, files: Mapping[str, str],
            config: SelectConfig | None = None) -> dict[str, float]:  # fmt: skip
    """pass_at_1, and for each N in `ns` (up to the candidates there are): coverage_at_N
    (some candidate of the N passes), selected_at_N (the one selection picks passes),
    abstain_at_N and wrong_at_N (selected + abstain + wrong = 1), each the mean over the
    sub-samples. `passed` is the grade by candidate id."""
    rng = random.Random(seed)
    ids = sorted(c.id for c in cands)
    by_id = {c.id: c for c in cands}
    out = {"pass_at_1": sum(passed.get(i, False) for i in ids) / len(ids) if ids else 0.0}
    for n in ns:
        if n > len(ids):
            continue
        cov = sel = abst = wrong = 0
        picks = subsets(ids, n, rng)
        for subset in picks:
            chosen = [by_id[i] for i in subset]
            cov += any(passed.get(i, False) for i in subset)
            pick = select_from(task_id, chosen, matrix, regress, files, config)
            sel += bool(pick and passed.get(pick))
            abst += pick is None
            wrong += bool(pick and not passed.get(pick))
        out[f"coverage_at_{n}"] = cov / len(picks)
        out[f"selected_at_{n}"] = sel / len(picks)
        out[f"abstain_at_{n}"] = abst / len(picks)
        out[f"wrong_at_{n}"] = wrong / len(picks)
    return out


def summary_keys(ns: Sequence[int]) -> tuple[list[str], list[str]]:
    """The table's columns (pass@1, coverage and selected at each N, wrong and abstain at
    the largest N), and every figure averaged (wrong and abstain at each N too)."""
    keys = ["pass_at_1"] + [f"{k}_at_{n}" for n in ns for k in ("coverage", "selected")]
    keys += [f"{k}_at_{ns[-1]}" for k in ("wrong", "abstain")]  # the honesty at the largest N
    every = keys + [f"{k}_at_{n}" for n in ns[:-1] for k in ("wrong", "abstain")]
    return keys, every


def summarize(per_task: Mapping[str, Mapping[str, float]], names: Sequence[str]
              ) -> dict[str, float]:  # fmt: skip
    """Each figure's mean over the tasks (a task lacking it counts 0)."""
    return {k: sum(f.get(k, 0.0) for f in per_task.values()) / len(per_task) for k in names}
