"""The calibrated confidence: the Newton fit, leave-one-task-out predictions that never see
their own task, the reliability table and ECE, and hybrid selection carrying a calibration."""

from __future__ import annotations

import math
import random

import pytest
from pydantic import ValidationError

from selection.calibration import (
    FEATURES,
    Calibration,
    Example,
    brier_score,
    calibration_buckets,
    example_of,
    expected_calibration_error,
    fit,
    leave_one_group_out,
    selection_features,
)
from selection.hybrid import SelectConfig, combined, rank, select
from selection.signals import Signals


def _example(group: str, support: float, correct: bool, **more: float) -> Example:
    feats = {"support": support, "margin": 0.0, "cluster_share": 0.5, "distinct_fixes": 2.0}
    return Example(group=group, n=4, features={**feats, **more}, raw=support, correct=correct)


def test_newton_fit_recovers_a_known_logistic_relation() -> None:
    rng = random.Random(7)
    examples = []
    for _ in range(3000):
        s, m = rng.random(), rng.random()
        p = 1 / (1 + math.exp(-(-2.0 + 4.0 * s - 1.0 * m)))
        examples.append(_example("g", s, rng.random() < p, margin=m))
    cal = fit(examples, features=("support", "margin"), l2=0.0)
    assert cal.intercept == pytest.approx(-2.0, abs=0.35)
    assert cal.coefficients[0] == pytest.approx(4.0, abs=0.5)
    assert cal.coefficients[1] == pytest.approx(-1.0, abs=0.4)
    assert cal.examples == 3000 and cal.features == ["support", "margin"]


def test_leave_one_task_out_never_uses_the_held_out_task() -> None:
    """Task X's labels are the inverse of every other task's rule: its own predictions do
    not move when its labels flip, while a fit that includes it does move."""
    rng = random.Random(1)
    rule = [(g, rng.random()) for g in ("a", "b", "c", "d") for _ in range(40)]
    others = [_example(g, s, s > 0.5) for g, s in rule]
    held = [rng.random() for _ in range(40)]
    inverted = [_example("x", s, s <= 0.5) for s in held]
    upright = [_example("x", s, s > 0.5) for s in held]
    p_inv, fits_inv = leave_one_group_out(others + inverted)
    p_up, _ = leave_one_group_out(others + upright)
    x_inv, x_up = p_inv[len(others) :], p_up[len(others) :]
    assert x_inv == pytest.approx(x_up)  # X's own labels never reached X's predictions
    assert x_inv == pytest.approx([fit(others).probability(e.features) for e in inverted])
    assert fits_inv["x"].examples == len(others)
    # ... and they follow the other tasks' rule, so on X they are badly wrong
    truth = [e.correct for e in inverted]
    assert brier_score(x_inv, truth) > 0.4
    # whereas fitting on everything, X included, does move with X's labels
    whole_inv = fit(others + inverted).probability(inverted[0].features)
    whole_up = fit(others + upright).probability(upright[0].features)
    assert abs(whole_inv - whole_up) > 0.05


def test_folds_hold_out_whole_folds_of_groups() -> None:
    """Groups a, b, c, d dealt into 2 folds (a, c) and (b, d): a's predictions come from a
    fit on b and d only."""
    rng = random.Random(2)
    examples = [_example(g, s, s > rng.random()) for g in "abcd" for s in
                (rng.random() for _ in range(30))]  # fmt: skip
    probs, fits = leave_one_group_out(examples, folds=2)
    bd = fit([e for e in examples if e.group in "bd"])
    a_probs = [p for p, e in zip(probs, examples, strict=True) if e.group == "a"]
    assert a_probs == pytest.approx([bd.probability(e.features) for e in examples
                                     if e.group == "a"])  # fmt: skip
    assert fits["a"] is fits["c"] and fits["a"].examples == 60


def test_a_recorded_selection_becomes_an_example_when_its_winner_is_graded() -> None:
    chosen = select("t", _signals())
    winner = chosen.evidence["ranking"][0]
    ex = example_of(chosen, {winner: True}, n=4)
    assert ex is not None and ex.correct and ex.n == 4 and ex.group == "t"
    assert ex.raw == chosen.confidence and ex.features == chosen.evidence["features"]
    assert example_of(chosen, {"someone-else": True}) is None  # winner ungraded
    nothing = select("t", Signals(ids=[]))
    assert example_of(nothing, {}) is None  # no code change, no winner


def test_calibration_beats_a_miscalibrated_raw_confidence_on_separable_data() -> None:
    """Correct exactly when support > 0.3, while the raw support says 0.3-0.5 for many
    right answers: the fitted map, held out task by task, is far closer to the diagonal."""
    rng = random.Random(3)
    examples = [_example(f"t{i % 8}", s, s > 0.3) for i, s in
                enumerate(rng.random() for _ in range(400))]  # fmt: skip
    truth = [e.correct for e in examples]
    loto, _ = leave_one_group_out(examples)
    raw_ece = expected_calibration_error(calibration_buckets([e.raw for e in examples], truth))
    cal_ece = expected_calibration_error(calibration_buckets(loto, truth))
    assert raw_ece > 0.2
    assert cal_ece < raw_ece / 2
    assert brier_score(loto, truth) < brier_score([e.raw for e in examples], truth)


def test_reliability_table_counts_add_up_and_edges_land_inside() -> None:
    probs = [0.0, 0.05, 0.1, 0.55, 0.99, 1.0, 1.0]
    truth = [False, False, True, True, True, False, True]
    table = calibration_buckets(probs, truth, buckets=10)
    assert len(table) == 10 and sum(b.count for b in table) == len(probs)
    assert table[0].count == 2 and table[1].count == 1 and table[9].count == 3  # 1.0: last
    for b in table:
        if b.count:
            assert b.low <= b.mean_p <= b.high
    assert table[9].accuracy == pytest.approx(2 / 3)
    # the ECE is the count-weighted gap: here by hand
    gaps = [(2, 0.025, 0.0), (1, 0.1, 1.0), (1, 0.55, 1.0), (3, 2.99 / 3, 2 / 3)]
    want = sum(n / 7 * abs(p - a) for n, p, a in gaps)
    assert expected_calibration_error(table) == pytest.approx(want)
    with pytest.raises(ValueError):
        calibration_buckets([0.5], [True, False])


def test_a_calibration_names_known_features_and_one_coefficient_each() -> None:
    with pytest.raises(ValidationError):
        Calibration(features=["support", "margin"], coefficients=[1.0])
    with pytest.raises(ValidationError):
        Calibration(features=["luck"], coefficients=[1.0])
    assert Calibration().features == list(FEATURES)
    # the number of fixes enters by its logarithm: one fix adds nothing
    cal = Calibration(features=["distinct_fixes"], coefficients=[2.0])
    assert cal.probability({"distinct_fixes": 1}) == pytest.approx(0.5)
    assert cal.probability({"distinct_fixes": math.e}) == pytest.approx(1 / (1 + math.exp(-2)))


def _signals() -> Signals:
    """Four candidates: a and c one fix that passes 2 of 3 tests, b and d one each."""
    return Signals(
        ids=["a", "b", "c", "d"], tests={"a": 2, "b": 1, "c": 2, "d": 0}, n_valid_tests=3,
        patch_votes={"a": 0.5, "b": 0.25, "c": 0.5, "d": 0.25},
        patch_keys={"a": "k1", "b": "k2", "c": "k1", "d": "k3"},
    )  # fmt: skip


def test_selection_features_describe_the_winner() -> None:
    s = _signals()
    config = SelectConfig()
    comb = combined(s, config.weights)
    ranking = rank(s, config)
    feats = selection_features(s, comb, ranking, 0.6)
    assert ranking[0] in ("a", "c")
    assert feats["support"] == 0.6
    assert feats["margin"] == pytest.approx(comb[ranking[0]] - comb[ranking[1]])
    assert feats["cluster_share"] == 0.5 and feats["distinct_fixes"] == 3.0
    # without counted votes the share is over the code-changing candidates
    bare = s.model_copy(update={"patch_votes": {}})
    assert selection_features(bare, comb, ranking, 0.6)["cluster_share"] == 0.5


def test_select_reports_the_calibrated_probability_and_abstains_on_it() -> None:
    s = _signals()
    plain = select("t", s, SelectConfig(threshold=0.5))
    assert plain.chosen in ("a", "c") and plain.confidence > 0.5
    assert "raw_confidence" not in plain.evidence
    assert set(plain.evidence["features"]) == set(FEATURES)

    doubtful = Calibration(intercept=-4.0)  # every coefficient 0: P = sigmoid(-4)
    low = select("t", s, SelectConfig(threshold=0.5, calibration=doubtful))
    assert low.chosen is None and low.confidence == pytest.approx(1 / (1 + math.exp(4)))
    assert low.evidence["raw_confidence"] == pytest.approx(plain.confidence)
    assert "calibrated confidence 0.02 does not exceed" in low.rationale

    # a raw support the threshold turns away is answered when the calibration says so
    strict = select("t", s, SelectConfig(threshold=0.9))
    assert strict.chosen is None
    sure = Calibration(intercept=4.0)
    high = select("t", s, SelectConfig(threshold=0.9, calibration=sure))
    assert high.chosen == plain.chosen and high.confidence > 0.9
    # the calibration reads the features: the same map, a stronger winner, a higher P
    by_support = Calibration(features=["support"], coefficients=[5.0], intercept=-2.5)
    weak = s.model_copy(update={"tests": {"a": 1, "b": 1, "c": 1, "d": 0}})
    p_strong = select("t", s, SelectConfig(calibration=by_support)).confidence
    p_weak = select("t", weak, SelectConfig(calibration=by_support)).confidence
    assert p_strong > p_weak
