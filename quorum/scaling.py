"""Scaling figures from recorded candidates: for N < the candidates sampled, sub-sample them
(every N-subset when there are at most SUBSETS, else SUBSETS drawn with a fixed seed) and
re-run Quorum's selection on each subset, with only the tests its own candidates wrote.

The one place `benchmarks/small_model_scaling.py` and the bench report
(`quorum/report/bench_view.py`) compute coverage@N and selected@N."""

from __future__ import annotations

import asyncio
import itertools
import random
from collections.abc import Iterator, Mapping, Sequence

from envs.candidate import Candidate
from selection.behaviour import BehaviourTable
from selection.calibration import Example, example_of
from selection.hybrid import SelectConfig
from selection.matrix import PassMatrix
from selection.pipeline import Evidence, RunOptions, select_run
from selection.result import Selection

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
                config: SelectConfig | None = None,
                behaviour: BehaviourTable | None = None) -> str | None:  # fmt: skip
    """Quorum's choice among these candidates, as quorum.solve makes it (hybrid selection
    over the reproduction-test matrix and the repository's related tests; no verifier),
    through the same selection.pipeline.select_run, offline over the recorded matrices."""
    if not cands:
        return None
    return selection_from(task_id, cands, repro, regress, files, config, behaviour).chosen


def selection_from(task_id: str, cands: list[Candidate], repro: PassMatrix | None,
                   regress: PassMatrix | None, files: Mapping[str, str],
                   config: SelectConfig | None = None,
                   behaviour: BehaviourTable | None = None) -> Selection:  # fmt: skip
    """`select_from`'s whole Selection (confidence, ranking, features). `behaviour`: a
    probe recorded over all the candidates, cut to these."""
    known = Evidence(
        repro=submatrix(repro, cands, own_tests=True) if repro else None,
        regress=submatrix(regress, cands, own_tests=False) if regress else None,
        base_files=dict(files), behaviour=behaviour,
    )
    options = RunOptions(selection=config or SelectConfig())
    run = asyncio.run(select_run(task_id, cands, [], None, "", options, known=known))
    return run.selection


def subset_selections(task_id: str, cands: Sequence[Candidate], matrix: PassMatrix | None,
                      regress: PassMatrix | None, ns: Sequence[int], seed: int,
                      files: Mapping[str, str], config: SelectConfig | None = None,
                      behaviour: BehaviourTable | None = None,
                      ) -> Iterator[tuple[int, tuple[str, ...], Selection]]:  # fmt: skip
    """(N, the subset's ids, its Selection) for every sub-sample `figures` scores, in the
    same order and with the same draws (one seeded generator over the Ns in turn)."""
    rng = random.Random(seed)
    ids = sorted(c.id for c in cands)
    by_id = {c.id: c for c in cands}
    for n in ns:
        if n > len(ids):
            continue
        for subset in subsets(ids, n, rng):
            chosen = [by_id[i] for i in subset]
            yield n, subset, selection_from(task_id, chosen, matrix, regress, files, config,
                                            behaviour)  # fmt: skip


def figures(task_id: str, cands: Sequence[Candidate], matrix: PassMatrix | None,
            regress: PassMatrix | None, passed: Mapping[str, bool], ns: Sequence[int],
            seed: int, files: Mapping[str, str], config: SelectConfig | None = None,
            behaviour: BehaviourTable | None = None) -> dict[str, float]:  # fmt: skip
    """pass_at_1, and for each N in `ns` (up to the candidates there are): coverage_at_N
    (some candidate of the N passes), selected_at_N (the one selection picks passes),
    abstain_at_N and wrong_at_N (selected + abstain + wrong = 1), each the mean over the
    sub-samples. `passed` is the grade by candidate id."""
    ids = [c.id for c in cands]
    out = {"pass_at_1": sum(passed.get(i, False) for i in ids) / len(ids) if ids else 0.0}
    tally: dict[int, list[int]] = {}  # N -> subsets, covered, selected, abstained, wrong
    for n, subset, selection in subset_selections(task_id, cands, matrix, regress, ns, seed,
                                                  files, config, behaviour):  # fmt: skip
        pick = selection.chosen
        row = tally.setdefault(n, [0, 0, 0, 0, 0])
        row[0] += 1
        row[1] += any(passed.get(i, False) for i in subset)
        row[2] += bool(pick and passed.get(pick))
        row[3] += pick is None
        row[4] += bool(pick and not passed.get(pick))
    for n, (count, cov, sel, abst, wrong) in tally.items():
        out[f"coverage_at_{n}"] = cov / count
        out[f"selected_at_{n}"] = sel / count
        out[f"abstain_at_{n}"] = abst / count
        out[f"wrong_at_{n}"] = wrong / count
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


def calibration_examples(task_id: str, cands: Sequence[Candidate], matrix: PassMatrix | None,
                         regress: PassMatrix | None, passed: Mapping[str, bool],
                         ns: Sequence[int], seed: int, files: Mapping[str, str],
                         ) -> list[Example]:  # fmt: skip
    """One example per sub-sample `figures` scores: the features selection saw about its
    winner (ranking[0], abstaining or not), its uncalibrated confidence, and whether the
    winner passes the hidden tests. A subset without a code change has no winner: none."""
    grades = {c.id: bool(passed.get(c.id)) for c in cands}
    found = (example_of(sel, grades, n) for n, _subset, sel in
             subset_selections(task_id, cands, matrix, regress, ns, seed, files))  # fmt: skip
    return [e for e in found if e is not None]
