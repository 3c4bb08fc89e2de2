"""The allocation policies: `fixed` (run N), `consensus` (stop once k candidates of one
patch cluster pass every validated test and no other fix does), `adaptive` (one at a
time; stop once the selector's current answer is settled, or where one more is worth too
little). Pure functions of an `AllocationState` (agent/allocation.py); clusters are
normalised-patch keys (selection/normalize.py) until behaviour clusters exist. Every
decision goes through `within_caps` and says why."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from agent.allocation import (
    AllocationPolicy,
    AllocationState,
    Decision,
    FinishedCandidate,
    Launch,
    Stop,
    Wait,
    mean_cost,
    within_caps,
)
from envs.candidate import Candidate
from sandbox.errors import QuorumError
from selection.hybrid import select
from selection.matrix import ORIGINAL, Cell, PassMatrix
from selection.normalize import normalised_id
from selection.pool import Group
from selection.signals import collect_signals


class UnknownPolicy(QuorumError):
    """An allocation policy name Quorum does not know."""


PolicyName = Literal["fixed", "consensus", "adaptive"]
POLICIES: tuple[str, ...] = ("fixed", "consensus", "adaptive")


def finished_from(cand: Candidate, matrix: PassMatrix | None,
                  verifier: float | None = None) -> FinishedCandidate:  # fmt: skip
    """A finished trajectory as a policy sees it: its patch cluster and its row of the
    pass matrix over the validated tests (built so far)."""
    valid = matrix.valid_tests() if matrix else []
    return FinishedCandidate(
        id=cand.id,
        cluster=normalised_id(cand.patch) if cand.patch.strip() else "",
        tests={t: matrix.passed(cand.id, t) for t in valid} if matrix else {},
        wrote=[cand.test.id] if cand.test is not None and cand.test.id in valid else [],
        verifier=verifier,
        cost_usd=cand.cost_usd,
        tokens=cand.tokens,
    )


def passes_all(cand: FinishedCandidate, tests: list[str]) -> bool:
    """Passes every validated test known (a test not yet run on it counts as failed)."""
    return bool(cand.cluster) and all(cand.tests.get(t, False) for t in tests)


def plausible_clusters(state: AllocationState) -> dict[str, list[str]]:
    """cluster -> ids of its candidates that pass every validated test, in finish order."""
    out: dict[str, list[str]] = defaultdict(list)
    for cand in state.finished:
        if passes_all(cand, state.valid_tests):
            out[cand.cluster].append(cand.id)
    return dict(out)


def consensus_reason(state: AllocationState, k: int, min_tests: int,
                     independent: int = 0) -> str | None:  # fmt: skip
    """Why sampling may stop, or None: some cluster has k candidates passing all of at
    least `min_tests` validated tests, and no candidate of another cluster passes them all
    (a rival fix with the same evidence would contradict it). With `independent`, at least
    that many of those tests were written outside the cluster (given, or by another
    cluster's trajectory): a patch passing only the tests its own cluster wrote has not
    been checked by anyone else."""
    tests = state.valid_tests
    if len(tests) < min_tests:
        return None
    plausible = plausible_clusters(state)
    agreed = [c for c, ids in plausible.items() if len(ids) >= k]
    if len(agreed) != 1 or len(plausible) > 1:
        return None
    cluster = agreed[0]
    own = {t for c in state.finished if c.cluster == cluster for t in c.wrote}
    others = sum(t not in own for t in tests)
    if others < independent:
        return None
    extra = f" ({others} written outside it)" if independent else ""
    return (f"stopped: {len(plausible[cluster])} candidates in cluster {cluster[:8]} pass "
            f"all {len(tests)} validated tests{extra}; {saved(state)}")  # fmt: skip


def selector_answer(state: AllocationState) -> str | None:
    """What the selector (default configuration) would answer if sampling stopped now: its
    pick, a candidate id, or None (it abstains). From what a policy sees: patch clusters,
    the validated tests known so far, verifier scores; no regression counts."""
    done = state.finished
    tests = state.valid_tests
    changed = [c for c in done if c.cluster]
    if not changed:
        return None
    # the patch text only has to be non-empty: patch_keys carry the cluster
    cands = [Candidate(id=c.id, task_id=state.task_id, cost_usd=c.cost_usd,
                       patch=f"cluster {c.cluster}\n") for c in changed]  # fmt: skip
    group = Group(task_id=state.task_id, candidates=cands,
                  patch_keys={c.id: c.cluster for c in changed})  # fmt: skip
    repro = PassMatrix(
        candidate_ids=[ORIGINAL, *(c.id for c in changed)], test_ids=tests,
        cells={ORIGINAL: {t: Cell(passed=False) for t in tests},
               **{c.id: {t: Cell(passed=c.tests.get(t, False)) for t in tests} for c in changed}},
    )  # fmt: skip
    scores = {c.id: c.verifier for c in changed if c.verifier is not None}
    signals = collect_signals(group, repro, None, scores or None)
    return select(state.task_id, signals).chosen


def settled_reason(state: AllocationState, agree: int, independent: int,
                   min_verifier: float, unrivalled: bool = False) -> str | None:  # fmt: skip
    """Why the selector's current answer is settled, or None: it picks a candidate that
    passes at least `independent` validated tests written outside its cluster (given, or
    by another cluster's trajectory), and either the verifier scores it at least
    `min_verifier` or, unscored, `agree` candidates share its cluster. With `unrivalled`,
    every other cluster also passes fewer validated tests than it does."""
    chosen = selector_answer(state)
    if chosen is None:
        return None
    cand = next(c for c in state.finished if c.id == chosen)
    members = [c for c in state.finished if c.cluster == cand.cluster]
    own = {t for c in members for t in c.wrote}
    checked = sum(cand.tests.get(t, False) for t in state.valid_tests if t not in own)
    if checked < independent:
        return None
    if unrivalled:
        passed = {c.cluster: sum(c.tests.get(t, False) for t in state.valid_tests)
                  for c in state.finished if c.cluster}  # fmt: skip
        if any(n >= passed[cand.cluster] for k, n in passed.items() if k != cand.cluster):
            return None
    if cand.verifier is not None:
        if cand.verifier < min_verifier:
            return None
        backing = f"verifier {cand.verifier:.2f}"
    elif len(members) < agree:
        return None
    else:
        backing = f"{len(members)} candidates agree"
    return (f"stopped: the selector's answer {chosen} is settled ({backing}; passes "
            f"{checked} validated tests written outside its cluster); {saved(state)}")


def saved(state: AllocationState) -> str:
    """What stopping now saves: trajectories never started, and running ones cancelled."""
    text = f"saved {state.max_n - len(state.finished)} of {state.max_n} trajectories"
    return text + (f" ({state.running} cancelled while running)" if state.running else "")


def _keep_running(state: AllocationState, parallel: int, why: str) -> Decision:
    want = parallel - state.running
    if want > 0 and state.launched < state.max_n:
        return within_caps(Launch(k=want, reason=why), state)
    if state.running:
        return Wait(reason=f"{why}; {state.running} running")
    return within_caps(Launch(k=1, reason=why), state)  # becomes a stop at N or the cap


class FixedPolicy(BaseModel):
    """Today's behaviour: N trajectories, all launched at once; never stops early."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["fixed"] = "fixed"

    def decide(self, state: AllocationState) -> Decision:
        left = state.max_n - state.launched
        if left > 0:
            return within_caps(Launch(k=left, reason=f"fixed: all {state.max_n}"), state)
        if state.running:
            return Wait(reason=f"fixed: {state.running} still running")
        return Stop(reason=f"stopped: fixed N = {state.max_n} done")


class ConsensusPolicy(BaseModel):
    """`parallel` trajectories at a time (k by default: the fewest that can agree)."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["consensus"] = "consensus"
    k: int = Field(2, ge=1, description="candidates of one cluster that must agree")
    min_tests: int = Field(1, ge=0, description="validated tests needed before stopping")
    independent_tests: int = Field(
        0, ge=0, description="of them, written outside the agreeing cluster")
    parallel: int | None = Field(None, ge=1, description="running at once (default: k)")

    def decide(self, state: AllocationState) -> Decision:
        reason = consensus_reason(state, self.k, self.min_tests, self.independent_tests)
        if reason:
            return Stop(reason=reason)
        return _keep_running(state, self.parallel or self.k, "consensus: not yet")


class AdaptivePolicy(BaseModel):
    """Stop as soon as the answer is settled, else spend while one more is worth it.

    Settled: consensus (k agreeing candidates pass every validated test, `independent_tests`
    of them written outside their cluster, and no rival does), or the selector's current
    answer (`selector_answer`) passes `settle_independent` validated tests written outside
    its cluster and is backed by the verifier (>= `settle_verifier`) or, unscored, by
    `settle_agree` agreeing candidates (and, with `settle_unrivalled`, no other cluster
    passes as many validated tests). Otherwise the value of one more trajectory is the
    chance it changes the answer: the per-sample success rate is estimated from how many
    finished candidates pass every validated test (a Beta prior, updated, verifier-weighted):
    a first plausible fix when there is none, a confirmation of a lone one, a tie-breaker
    between rival ones. Sampling continues while value clears `min_gain` and value / expected
    cost clears `min_gain_per_usd` (both 0 by default: only a settled answer, N or the caps
    stop it). One runs at a time by default, so a stop cancels nothing. The defaults were
    picked on the synthetic tables of seed 1 (benchmarks/data/README.md)."""

    model_config = ConfigDict(extra="forbid")
    name: Literal["adaptive"] = "adaptive"
    k: int = Field(2, ge=1)
    min_tests: int = Field(1, ge=0)
    independent_tests: int = Field(
        2, ge=0, description="consensus: validated tests written outside the agreeing cluster")
    prior_a: float = Field(1.0, gt=0, description="Beta prior of the per-sample success")
    prior_b: float = Field(2.0, gt=0)
    min_gain: float = Field(0.0, ge=0, description="stop when one more is worth less")
    min_gain_per_usd: float = Field(0.0, ge=0)
    parallel: int = Field(
        1, ge=1, description="running at once; 1: the cheapest (a stop cancels nothing), "
        "2 halves the wall time at the price of the cancelled one's partial cost")
    settle_independent: int | None = Field(
        1, ge=0, description="stop once the selector's answer passes this many validated "
        "tests written outside its cluster and is backed (below); None: never")
    settle_verifier: float = Field(
        0.7, ge=0, le=1, description="backing: the verifier scores the answer at least this")
    settle_agree: int = Field(
        2, ge=1, description="backing where the verifier did not score: candidates agreeing")
    settle_unrivalled: bool = Field(
        False, description="and no other cluster passes as many validated tests as it does "
        "(fewer wrong answers, more cost)")

    def settled(self, state: AllocationState) -> str | None:
        """Why the answer is settled (a stop reason), or None."""
        reason = consensus_reason(state, self.k, self.min_tests, self.independent_tests)
        if reason is None and self.settle_independent is not None:
            reason = settled_reason(state, self.settle_agree, self.settle_independent,
                                    self.settle_verifier, self.settle_unrivalled)  # fmt: skip
        return reason

    def success_rate(self, state: AllocationState) -> float:
        plausible = [c for c in state.finished if passes_all(c, state.valid_tests)]
        weight = sum(c.verifier if c.verifier is not None else 1.0 for c in plausible)
        n = len(state.finished)
        return (self.prior_a + weight) / (self.prior_a + self.prior_b + n)

    def gain(self, state: AllocationState) -> float:
        return 0.0 if self.settled(state) else self._open_gain(state)

    def _open_gain(self, state: AllocationState) -> float:
        left = state.max_n - len(state.finished)  # running ones finish unless cancelled
        if left <= 0:
            return 0.0
        p = self.success_rate(state)
        plausible = plausible_clusters(state)
        if not plausible:
            # a first plausible fix among what is left, worth it when tests can judge it
            return 1.0 - (1.0 - p) ** left
        biggest = max(len(ids) for ids in plausible.values())
        if len(plausible) > 1:
            return p * 0.5  # rival fixes: one more may break the tie
        return p * (1.0 - biggest / (self.k + 1))  # one fix, not yet confirmed

    def gain_per_usd(self, state: AllocationState) -> float:
        return _per_usd(self.gain(state), state)

    def decide(self, state: AllocationState) -> Decision:
        reason = self.settled(state)
        if reason:
            return Stop(reason=reason)
        if state.finished:
            value = self._open_gain(state)
            rate = _per_usd(value, state)
            if value < self.min_gain or rate < self.min_gain_per_usd:
                p = self.success_rate(state)
                return Stop(reason=(
                    f"stopped: one more trajectory is worth {value:.2f} (estimated success "
                    f"rate {p:.2f} after {len(state.finished)}); {saved(state)}"))
        return _keep_running(state, self.parallel, "adaptive: worth more")


def _per_usd(value: float, state: AllocationState) -> float:
    each = mean_cost(state)
    return value / each if each > 0 else float("inf")


def make_policy(name: str, options: Mapping[str, object] | None = None) -> AllocationPolicy:
    options = dict(options or {})
    if name == "fixed":
        return FixedPolicy(**options)
    if name == "consensus":
        return ConsensusPolicy(**options)
    if name == "adaptive":
        return AdaptivePolicy(**options)
    raise UnknownPolicy(f"unknown allocation policy {name!r}", hint=f"one of {', '.join(POLICIES)}")
