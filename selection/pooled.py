"""Ranking by the pooled reproduction tests (the tests that fail on the original code),
which picks the candidates a later refinement round is shown."""

from __future__ import annotations

from collections.abc import Sequence

from envs.candidate import Candidate
from selection.matrix import PassMatrix

METHOD = "pooled_tests"


def score_pooled(candidates: Sequence[Candidate], matrix: PassMatrix) -> dict[str, float]:
    valid = matrix.valid_tests()
    return {
        c.id: float(sum(matrix.passed(c.id, t) for t in valid))
        for c in candidates
        if c.patch.strip()
    }


def rank_by_pooled(candidates: Sequence[Candidate], matrix: PassMatrix) -> list[Candidate]:
    scores = score_pooled(candidates, matrix)
    for cand in candidates:
        if cand.id in scores:
            cand.scores["pooled_tests_passed"] = scores[cand.id]
    solvers = [c for c in candidates if c.id in scores]
    return sorted(solvers, key=lambda c: (-scores[c.id], not c.reproduces, c.cost_usd, c.id))
