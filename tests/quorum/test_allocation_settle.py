"""The adaptive policy's settled-answer stop: it asks the real selector what it would
answer now, and stops once that answer passes a test written outside its cluster and is
backed by the verifier (or, unscored, by agreement); the CLI passes only the knobs given,
so `quorum simulate` replays the same defaults a live run uses."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from agent.allocation import AllocationState, FinishedCandidate, Launch, Stop
from quorum.allocation import AdaptivePolicy, make_policy, selector_answer
from quorum.cli import app
from quorum.outcomes import OutcomeCandidate, OutcomeInstance
from quorum.simulate import SimConfig, replay

GIVEN = "g"  # a test writer's test: written outside every cluster


def cand(cid: str, cluster: str, passes: list[str], verifier: float | None = None,
         wrote: list[str] = ()) -> FinishedCandidate:  # fmt: skip
    return FinishedCandidate(id=cid, cluster=cluster, verifier=verifier, wrote=list(wrote),
                             tests={t: t in passes for t in [GIVEN, "ta", "tb"]})  # fmt: skip


def state(*finished: FinishedCandidate, tests: list[str] = [GIVEN]) -> AllocationState:  # noqa: B006
    return AllocationState(task_id="t", max_n=8, launched=len(finished), finished=list(finished),
                           valid_tests=tests)  # fmt: skip


def test_the_selector_answers_over_what_has_finished() -> None:
    right = cand("a", "fix", [GIVEN], verifier=0.8)
    assert selector_answer(state(right)) == "a"
    # a lone patch that fails the only test, which the verifier doubts: too weak to pick
    assert selector_answer(state(cand("a", "fix", [], verifier=0.3))) is None
    assert selector_answer(state(cand("n", "", []))) is None  # nothing changes code


def test_adaptive_stops_once_the_verifier_backs_an_independently_tested_answer() -> None:
    policy = AdaptivePolicy()
    decision = policy.decide(state(cand("a", "fix", [GIVEN], verifier=0.8)))
    assert isinstance(decision, Stop)
    assert decision.reason.startswith("stopped: the selector's answer a is settled "
                                      "(verifier 0.80; passes 1 validated tests written")
    assert policy.gain(state(cand("a", "fix", [GIVEN], verifier=0.8))) == 0.0
    weak = policy.decide(state(cand("a", "fix", [GIVEN], verifier=0.6)))
    assert isinstance(weak, Launch) and weak.k == 1  # one at a time by default
    off = AdaptivePolicy(settle_independent=None)
    assert not isinstance(off.decide(state(cand("a", "fix", [GIVEN], verifier=0.8))), Stop)


def test_a_test_the_answer_wrote_itself_does_not_settle_it() -> None:
    own = cand("a", "fix", ["ta"], verifier=0.9, wrote=["ta"])
    assert not isinstance(AdaptivePolicy().decide(state(own, tests=["ta"])), Stop)
    given = cand("a", "fix", [GIVEN, "ta"], verifier=0.9, wrote=["ta"])
    assert isinstance(AdaptivePolicy().decide(state(given, tests=[GIVEN, "ta"])), Stop)


def test_unscored_answers_need_agreement() -> None:
    policy = AdaptivePolicy()
    lone = state(cand("a", "fix", [GIVEN]))
    assert not isinstance(policy.decide(lone), Stop)
    pair = state(cand("a", "fix", [GIVEN]), cand("b", "fix", [GIVEN]))
    decision = policy.decide(pair)
    assert isinstance(decision, Stop) and "(2 candidates agree;" in decision.reason


def test_unrivalled_waits_while_another_cluster_passes_as_many_tests() -> None:
    tests = [GIVEN, "ta"]
    answer = cand("a", "fix", [GIVEN], verifier=0.9)
    rival = cand("b", "w", ["ta"], verifier=0.3, wrote=["ta"])
    both = state(answer, rival, tests=tests)
    assert selector_answer(both) == "a"
    assert isinstance(AdaptivePolicy().decide(both), Stop)
    assert not isinstance(AdaptivePolicy(settle_unrivalled=True).decide(both), Stop)


def test_simulate_passes_only_the_options_given(tmp_path: Path) -> None:
    args = ["simulate", "--synthetic", "--instances", "20", "--seed", "4", "--policies",
            "adaptive", "--json"]  # fmt: skip
    CliRunner().invoke(app, [*args, str(tmp_path / "d.json")])
    given = CliRunner().invoke(app, [*args, str(tmp_path / "g.json"), "--settle-verifier",
                                     "0.9", "--parallel", "2"])  # fmt: skip
    assert given.exit_code == 0, given.output
    default = json.loads((tmp_path / "d.json").read_text())["parameters"]["policies"]
    assert default["adaptive"] == make_policy("adaptive").model_dump()  # a live run's policy
    chosen = json.loads((tmp_path / "g.json").read_text())["parameters"]["policies"]
    assert chosen["adaptive"]["settle_verifier"] == 0.9 and chosen["adaptive"]["parallel"] == 2


def test_a_replay_without_the_verifier_hides_its_scores_from_the_policy_too() -> None:
    fix = [OutcomeCandidate(id=f"c{i}", resolved=True, cluster="fix", tests={GIVEN: True},
                            verifier=0.9) for i in range(4)]  # fmt: skip
    inst = OutcomeInstance(instance_id="i", given_tests=[GIVEN], candidates=fix)
    scored = replay(inst, AdaptivePolicy(), SimConfig(max_n=4))
    assert scored.finished == 1 and "settled (verifier 0.90" in scored.reason
    blind = replay(inst, AdaptivePolicy(), SimConfig(max_n=4, use_verifier=False))
    assert blind.finished == 2 and "(2 candidates agree;" in blind.reason
    assert scored.resolved and blind.resolved


def test_on_a_synthetic_table_adaptive_keeps_the_accuracy_for_much_less() -> None:
    """Seed 1, the seed the defaults were picked on (benchmarks/data/README.md), cut to
    60 instances: accuracy not below fixed's, a clearly smaller bill."""
    from quorum.commands.simulate import DEFAULT_COUNTS
    from quorum.simulate import figures, run_policy
    from quorum.synthetic import SyntheticSpec, fit_beta, generate, read_counts

    beta = fit_beta(read_counts(DEFAULT_COUNTS))
    table = generate(SyntheticSpec(instances=60, beta_a=beta.a, beta_b=beta.b, seed=1))
    fixed = figures("fixed", run_policy(table, make_policy("fixed"), SimConfig()))
    adaptive = figures("adaptive", run_policy(table, make_policy("adaptive"), SimConfig()))
    assert adaptive.accuracy >= fixed.accuracy
    assert adaptive.cost_usd < 0.7 * fixed.cost_usd
    assert adaptive.trajectories < 6
