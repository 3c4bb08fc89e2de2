"""Selection by the pooled reproduction tests: the candidate that passes the most tests
which fail on the original code. Abstains when no such test is passed by anyone."""

from __future__ import annotations

from collections.abc import Sequence

from envs.candidate import Candidate
from selection.matrix import PassMatrix
from selection.result import Selection

METHOD = "pooled_tests"


def score_pooled(candidates: Sequence[Candidate], matrix: PassMatrix) -> dict[str, float]:
    valid = matrix.valid_tests()
    return {
        c.id: float(sum(matrix.passed(c.id, t) for t in valid))
        for c in candidates
        if c.patch.strip()
    }


def select_pooled(task_id: str, candidates: Sequence[Candidate], matrix: PassMatrix) -> Selection:
    valid = matrix.valid_tests()
    scores = score_pooled(candidates, matrix)
    evidence = {
        "valid_tests": valid,
        "invalid_tests": [t for t in matrix.test_ids if t not in valid],
        "patch_errors": matrix.patch_errors,
    }
    if not scores:
        return Selection(
            task_id=task_id, method=METHOD, evidence=evidence,
            rationale="No trajectory produced a non-empty patch, so there is nothing to choose.",
        )  # fmt: skip
    by_id = {c.id: c for c in candidates}
    # Most valid tests passed; then its own test reproduced the issue; then cheaper; then id,
    # so equal evidence always gives the same answer.
    ranked = sorted(
        scores,
        key=lambda cid: (-scores[cid], not by_id[cid].reproduces, by_id[cid].cost_usd, cid),
    )
    best = ranked[0]
    if not valid or scores[best] == 0:
        why = (
            "none of the generated tests fails on the original code"
            if not valid
            else "no candidate passes any of the tests that fail on the original code"
        )
        return Selection(
            task_id=task_id, method=METHOD, scores=scores, evidence=evidence,
            rationale=f"Abstaining: {why}, so the tests cannot tell a fix from a non-fix.",
        )  # fmt: skip
    confidence = scores[best] / len(valid)
    tied = [cid for cid in ranked if scores[cid] == scores[best]]
    return Selection(
        task_id=task_id,
        method=METHOD,
        chosen=best,
        confidence=confidence,
        scores=scores,
        evidence={**evidence, "tied_with": tied[1:]},
        rationale=(
            f"{best} passes {scores[best]:g} of the {len(valid)} generated tests that fail on "
            f"the original code"
            + (
                f"; tied with {', '.join(tied[1:])}, broken by own-test evidence, cost and id"
                if len(tied) > 1
                else ""
            )
            + "."
        ),
    )


def rank_by_pooled(candidates: Sequence[Candidate], matrix: PassMatrix) -> list[Candidate]:
    scores = score_pooled(candidates, matrix)
    for cand in candidates:
        if cand.id in scores:
            cand.scores["pooled_tests_passed"] = scores[cand.id]
    solvers = [c for c in candidates if c.id in scores]
    return sorted(solvers, key=lambda c: (-scores[c.id], not c.reproduces, c.cost_usd, c.id))
