"""Execution- and patch-based scores, each a dict keyed by candidate id.

- `patch_votes`: share of the pool whose normalised patch equals this one (majority).
- `test_votes`: CodeMonkeys-style: valid reproduction tests this candidate passes.
- `b4_scores`: B4/CodeT-style consensus on the pass matrix: a test is trusted as much as the
  candidates that pass it, a candidate as much as the trusted tests it passes (a
  HITS-style fixed point, damped by the patch-cluster prior), so a test that only its own
  author passes counts for little and a consensus of independent candidates for a lot.
- `agentless_cascade`: fewest regressions, then most reproduction tests, then the biggest
  normalised-patch cluster; the survivors in a deterministic order.
- `behaviour_clusters`: candidates with the same outcome over the valid tests (and the
  regression tests) behave alike; one cluster each."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from selection.matrix import PassMatrix
from selection.pool import Group
from selection.regression import regressions


def patch_votes(group: Group) -> dict[str, float]:
    clusters = group.clusters()
    n = max(len(group.solvers), 1)
    return {cid: len(ids) / n for ids in clusters.values() for cid in ids}


def test_votes(ids: Sequence[str], matrix: PassMatrix | None) -> dict[str, float]:
    if matrix is None:
        return dict.fromkeys(ids, 0.0)
    valid = matrix.valid_tests()
    return {c: float(sum(matrix.passed(c, t) for t in valid)) for c in ids}


def regression_counts(ids: Sequence[str], matrix: PassMatrix | None) -> dict[str, int]:
    if matrix is None:
        return dict.fromkeys(ids, 0)
    return {c: regressions(matrix, c) for c in ids}


def b4_scores(
    ids: Sequence[str],
    matrix: PassMatrix | None,
    prior: Mapping[str, float] | None = None,
    rounds: int = 20,
) -> dict[str, float]:
    """Candidate scores in [0, 1] (max = 1); all equal when no valid test exists."""
    prior = prior or dict.fromkeys(ids, 1.0)
    valid = matrix.valid_tests() if matrix else []
    if not valid or not ids:
        return dict.fromkeys(ids, 0.0)
    assert matrix is not None
    passes = {c: [t for t in valid if matrix.passed(c, t)] for c in ids}
    cand = {c: prior.get(c, 1.0) for c in ids}
    for _ in range(rounds):
        trust = {t: sum(cand[c] for c in ids if t in passes[c]) for t in valid}
        new = {c: prior.get(c, 1.0) * sum(trust[t] for t in passes[c]) for c in ids}
        top = max(new.values())
        if top == 0:
            return dict.fromkeys(ids, 0.0)
        new = {c: v / top for c, v in new.items()}
        if all(abs(new[c] - cand[c]) < 1e-9 for c in ids):
            break
        cand = new
    return cand


def behaviour_clusters(ids: Sequence[str], *matrices: PassMatrix | None) -> dict[str, list[str]]:
    """Outcome signature over every test of each matrix -> candidate ids."""
    out: dict[str, list[str]] = {}
    for c in ids:
        sig = [
            "".join("1" if m.passed(c, t) else "0" for t in sorted(m.test_ids))
            for m in matrices
            if m is not None
        ]
        out.setdefault("|".join(sig), []).append(c)
    return out


def agentless_cascade(
    group: Group,
    repro: PassMatrix | None,
    regress: PassMatrix | None,
) -> list[str]:
    """Survivors of the Agentless filter, best first; ties by pool order."""
    ids = [c.id for c in group.solvers]
    if not ids:
        return []
    regs = regression_counts(ids, regress)
    ids = [c for c in ids if regs[c] == min(regs.values())]
    votes = test_votes(ids, repro)
    ids = [c for c in ids if votes[c] == max(votes.values())]
    majority = patch_votes(group)
    best = max(majority[c] for c in ids)
    return [c for c in ids if majority[c] == best]
