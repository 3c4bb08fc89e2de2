"""Allocation policies on hand-built states: consensus stops exactly when k candidates of
one cluster pass every validated test and no rival does; fixed never stops early; no
policy launches past N or past the ledger's caps."""

from __future__ import annotations

from agent.allocation import (
    AllocationState,
    FinishedCandidate,
    Launch,
    Stop,
    Wait,
    affordable,
    within_caps,
)
from agent.llm.ledger import BudgetCaps
from envs.candidate import Candidate
from quorum.allocation import (
    AdaptivePolicy,
    ConsensusPolicy,
    FixedPolicy,
    finished_from,
    make_policy,
)
from selection.matrix import ORIGINAL, Cell, PassMatrix

TESTS = ["t1", "t2", "t3"]


def cand(cid: str, cluster: str, passes: list[str], cost: float = 0.01) -> FinishedCandidate:
    return FinishedCandidate(id=cid, cluster=cluster, tests={t: t in passes for t in TESTS},
                             cost_usd=cost)  # fmt: skip


def state(*finished: FinishedCandidate, max_n: int = 8, running: int = 0,
          caps: BudgetCaps | None = None, tests: list[str] = TESTS) -> AllocationState:  # fmt: skip
    return AllocationState(
        task_id="t", max_n=max_n, launched=len(finished) + running, running=running,
        finished=list(finished), valid_tests=tests, caps=caps or BudgetCaps(),
        spent_usd=sum(c.cost_usd for c in finished),
    )  # fmt: skip


def test_consensus_stops_exactly_when_k_agree_and_pass_every_test() -> None:
    policy = ConsensusPolicy(k=2)
    one = state(cand("a", "c1", TESTS), running=1)
    assert not isinstance(policy.decide(one), Stop)
    two = state(cand("a", "c1", TESTS), cand("b", "c1", TESTS), running=1)
    decision = policy.decide(two)
    assert isinstance(decision, Stop)
    assert decision.reason == ("stopped: 2 candidates in cluster c1 pass all 3 validated "
                               "tests; saved 6 of 8 trajectories (1 cancelled while running)")


def test_consensus_needs_every_validated_test_and_the_same_cluster() -> None:
    policy = ConsensusPolicy(k=2)
    short = state(cand("a", "c1", TESTS), cand("b", "c1", ["t1", "t2"]))
    assert not isinstance(policy.decide(short), Stop)
    apart = state(cand("a", "c1", TESTS), cand("b", "c2", TESTS))
    assert not isinstance(policy.decide(apart), Stop)
    no_tests = state(cand("a", "c1", []), cand("b", "c1", []), tests=[])
    assert not isinstance(policy.decide(no_tests), Stop)  # agreement alone is not evidence


def test_independent_tests_must_come_from_outside_the_agreeing_cluster() -> None:
    """t1 and t2 were written by the pair itself; only t3 (given, or another cluster's)
    checks it independently."""
    policy = ConsensusPolicy(k=2, independent_tests=2)
    a = cand("a", "c1", TESTS).model_copy(update={"wrote": ["t1"]})
    b = cand("b", "c1", TESTS).model_copy(update={"wrote": ["t2"]})
    assert not isinstance(policy.decide(state(a, b)), Stop)
    assert isinstance(ConsensusPolicy(k=2, independent_tests=1).decide(state(a, b)), Stop)
    other = cand("c", "c2", ["t1"]).model_copy(update={"wrote": ["t2"]})  # wrote it too
    decision = policy.decide(state(a, b.model_copy(update={"wrote": []}), other))
    assert isinstance(decision, Stop) and "(2 written outside it)" in decision.reason


def test_consensus_does_not_stop_while_a_rival_fix_passes_the_same_tests() -> None:
    policy = ConsensusPolicy(k=2)
    rival = state(cand("a", "c1", TESTS), cand("b", "c1", TESTS), cand("c", "c2", TESTS))
    assert not isinstance(policy.decide(rival), Stop)
    # a wrong candidate that fails a test does not contradict the agreeing pair
    loser = state(cand("a", "c1", TESTS), cand("b", "c1", TESTS), cand("c", "c2", ["t1"]))
    assert isinstance(policy.decide(loser), Stop)


def test_consensus_keeps_k_running_then_waits() -> None:
    policy = ConsensusPolicy(k=2)
    first = policy.decide(state())
    assert isinstance(first, Launch) and first.k == 2
    assert isinstance(policy.decide(state(running=2)), Wait)
    refill = policy.decide(state(cand("a", "c1", TESTS), running=1))
    assert isinstance(refill, Launch) and refill.k == 1


def test_fixed_launches_n_and_never_stops_early() -> None:
    policy = FixedPolicy()
    first = policy.decide(state())
    assert isinstance(first, Launch) and first.k == 8
    agreed = [cand(f"a{i}", "c1", TESTS) for i in range(3)]
    assert isinstance(policy.decide(state(*agreed, running=5)), Wait)
    done = policy.decide(state(*[cand(f"a{i}", "c1", TESTS) for i in range(8)]))
    assert isinstance(done, Stop) and "fixed N = 8 done" in done.reason


def test_no_policy_launches_past_n_or_the_caps() -> None:
    caps = BudgetCaps(run_usd=0.05, trajectory_usd=0.02)
    for policy in (FixedPolicy(), ConsensusPolicy(k=3, parallel=8), AdaptivePolicy(parallel=4)):
        first = policy.decide(state(caps=caps))
        assert isinstance(first, Launch) and first.k == 2, policy.name  # 0.05 // 0.02
        spent = state(cand("a", "c1", []), cand("b", "c2", []), caps=caps)
        later = policy.decide(spent)  # 0.03 left: one more at the trajectory cap
        assert isinstance(later, (Launch, Stop)), policy.name
        if isinstance(later, Launch):
            assert later.k == 1
    at_n = state(*[cand(f"a{i}", f"c{i}", []) for i in range(4)], max_n=4)
    assert affordable(at_n) == 0
    stop = within_caps(Launch(k=3, reason="more"), at_n)
    assert isinstance(stop, Stop) and "N reached" in stop.reason
    broke = state(cand("a", "c1", [], cost=0.06), running=1, caps=caps)
    assert isinstance(within_caps(Launch(k=1, reason="more"), broke), Wait)


def test_token_caps_count_too() -> None:
    caps = BudgetCaps(run_tokens=10_000, trajectory_tokens=4_000)
    first = FixedPolicy().decide(state(caps=caps))
    assert isinstance(first, Launch) and first.k == 2


def test_adaptive_stops_settled_and_hopeless_instances_and_spends_on_open_ones() -> None:
    policy = AdaptivePolicy(k=2, min_gain=0.1)
    settled = state(cand("a", "c1", TESTS), cand("b", "c1", TESTS))
    assert isinstance(policy.decide(settled), Stop)
    hopeless = state(*[cand(f"w{i}", f"c{i}", []) for i in range(7)])  # one left, 0 plausible
    assert policy.gain(hopeless) < 0.1
    assert isinstance(policy.decide(hopeless), Stop)
    open_ = state(cand("a", "c1", TESTS), cand("w", "c2", []))  # a lone plausible fix
    assert policy.gain(open_) > policy.gain(hopeless)
    assert isinstance(policy.decide(open_), Launch)


def test_finished_from_reads_the_matrix_and_the_patch_cluster() -> None:
    matrix = PassMatrix(
        candidate_ids=[ORIGINAL, "a"], test_ids=["t1", "t2", "base_ok"],
        cells={ORIGINAL: {"t1": Cell(passed=False), "t2": Cell(passed=False),
                          "base_ok": Cell(passed=True)},
               "a": {"t1": Cell(passed=True), "t2": Cell(passed=False)}},
    )  # fmt: skip
    patch = "--- a/x.py\n+++ b/x.py\n@@ -1 +1 @@\n-a = 1\n+a = 2\n"
    seen = finished_from(Candidate(id="a", task_id="t", patch=patch, cost_usd=0.5), matrix)
    assert seen.tests == {"t1": True, "t2": False}  # only the validated tests
    twin = finished_from(Candidate(id="b", task_id="t", patch=patch + "\n"), matrix)
    assert seen.cluster and twin.cluster == seen.cluster
    assert finished_from(Candidate(id="c", task_id="t", patch=""), None).cluster == ""


def test_unknown_policy_is_a_quorum_error() -> None:
    from sandbox.errors import QuorumError

    try:
        make_policy("greedy")
    except QuorumError as exc:
        assert "greedy" in str(exc) and exc.hint and "consensus" in exc.hint
    else:
        raise AssertionError("no error")
