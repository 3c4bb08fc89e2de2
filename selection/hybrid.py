"""Hybrid selection: the R2E-Gym cascade, a weighted combination, and the single-signal
baselines, all over the same `Signals`, all with the same abstention rule.

cascade: keep the top k by verifier score (everyone tied with the k-th stays, so k = 1
    and ties are both well defined; without a verifier everyone stays), then those within
    `regression_slack` (at most `regression_slack_share` of the suite) of the fewest
    regressions (gross breakage goes; a few broken tests may be an intended change), then
    the most valid reproduction tests passed, then the highest verifier score; what is
    still tied goes by the combined score, cost, id.
weighted: sum of weight x normalised signal over the available signals, divided by the
    sum of their weights.
votes: CodeMonkeys-style: most valid tests passed, then the biggest patch cluster.
verifier: highest P(YES). agentless: the Agentless cascade. random: a seeded draw.

Confidence is the winner's `support`: its weighted score over the signals that can speak
for a fix, times the share of the repository's tests it keeps (not breaking tests is never
evidence of a fix); the same for every method, so one threshold means the same thing. With
a `calibration` (selection.calibration) it is that map's P(correct) instead.
Abstain when it is below `threshold`, when no signal or only the repository's tests speak,
(optionally) when the strong signals (verifier, tests) favour disjoint sets and the winner
leads the runner-up by less than `margin`, and (optionally) when distinct fixes tie on
every signal; such a tie is always recorded (`evidence.tied_fixes`)."""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from selection.calibration import Calibration, selection_features
from selection.result import Selection
from selection.signals import Signals

Method = Literal["cascade", "weighted", "votes", "verifier", "agentless", "random"]
METHODS: tuple[str, ...] = ("cascade", "weighted", "votes", "verifier", "agentless", "random")


class Weights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    verifier: float = Field(1.0, ge=0)
    tests: float = Field(1.0, ge=0)
    regressions: float = Field(1.0, ge=0)
    b4: float = Field(0.5, ge=0)
    patch_votes: float = Field(0.5, ge=0)
    behaviour_votes: float = Field(0.5, ge=0, description="replaces patch_votes when probed")
    agent: float = Field(0.5, ge=0)
    tournament: float = Field(1.0, ge=0)


class SelectConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    method: Method = "cascade"
    top_k: int = Field(3, ge=1, description="cascade: candidates kept by verifier score")
    weights: Weights = Field(default_factory=Weights)
    threshold: float = Field(
        0.5, ge=0, le=1, description="abstain unless the confidence exceeds this (0: never)")
    abstain_on_disagreement: bool = True
    margin: float = Field(0.1, ge=0, description="lead that overrides a disagreement")
    abstain_on_tie: bool = Field(
        False, description="abstain when distinct fixes tie on every signal (the pick "
        "among them would be arbitrary); off by default: tied fixes are often equivalent")
    regression_slack: int = Field(
        2, ge=0, description="cascade: also keep candidates that break up to this "
        "many more repository tests than the fewest (an intended fix may change what a few "
        "existing tests assert; gross breakage is still filtered out)")
    regression_slack_share: float = Field(
        0.05, ge=0, le=1, description="... and no more than this share of the base-passing "
        "regression tests (in a small suite every broken test counts)")
    seed: int = 0
    calibration: Calibration | None = Field(
        None, description="when set, the confidence is this map's P(correct) of the "
        "winner's support, margin, cluster share and distinct fixes (selection.calibration), "
        "and the threshold applies to it; the support stays in evidence.raw_confidence")


def _weighted(norm: dict[str, dict[str, float]], weights: Weights, cid: str) -> float:
    total = sum(getattr(weights, name) for name in norm)
    if not total:
        return 0.0
    return sum(getattr(weights, name) * vals[cid] for name, vals in norm.items()) / total


def combined(signals: Signals, weights: Weights) -> dict[str, float]:
    norm = signals.normalised()
    return {c: _weighted(norm, weights, c) for c in signals.ids}


def support(signals: Signals, weights: Weights, cid: str) -> float:
    """The confidence in a candidate: its weighted score over the signals that can speak
    for a fix (verifier, tests, B4, votes, tournament, agent), times the share of base-passing
    repository tests it keeps. Not breaking existing tests is necessary but says nothing
    for a fix (the unchanged code keeps them all), so it only ever takes away."""
    norm = signals.normalised()
    positive = {k: v for k, v in norm.items() if k != "regressions"}
    kept = norm["regressions"][cid] if "regressions" in norm else 1.0
    return _weighted(positive, weights, cid) * kept


def _within_slack(ids: Sequence[str], signals: Signals, config: SelectConfig) -> list[str]:
    """Those breaking few more repository tests than the candidate that breaks fewest."""
    if not ids:
        return []
    broken = signals.regressions
    slack = min(config.regression_slack,
                config.regression_slack_share * signals.n_regression_tests)  # fmt: skip
    fewest = min(broken.get(c, 0.0) for c in ids)
    return [c for c in ids if broken.get(c, 0.0) <= fewest + slack]


def _best(ids: Sequence[str], score: dict[str, float], *, lowest: bool = False) -> list[str]:
    if not ids:
        return []
    pick = min if lowest else max
    target = pick(score.get(c, 0.0) for c in ids)
    return [c for c in ids if score.get(c, 0.0) == target]


def top_k(ids: Sequence[str], score: dict[str, float], k: int) -> list[str]:
    """The k best, plus everyone tied with the k-th (a tie is never cut arbitrarily)."""
    ranked = sorted(ids, key=lambda c: -score.get(c, 0.0))
    if len(ranked) <= k:
        return list(ids)
    kth = score.get(ranked[k - 1], 0.0)
    return [c for c in ids if score.get(c, 0.0) >= kth]


def _stable(cid: str) -> bytes:
    """Last tie-break: a hash of the id, deterministic but blind to how sources are named
    (a lexical order would always favour the same submission)."""
    return hashlib.sha256(cid.encode()).digest()


def rank(signals: Signals, config: SelectConfig) -> list[str]:
    """Candidate ids, best first, for the configured method; deterministic."""
    comb = combined(signals, config.weights)
    ids = list(signals.ids)

    def order(pool: Sequence[str]) -> list[str]:
        return sorted(pool, key=lambda c: (-comb[c], signals.cost.get(c, 0.0), _stable(c)))

    method = config.method
    if method == "weighted":
        return order(ids)
    if method == "random":
        draw = sorted(ids, key=lambda c: hashlib.sha256(f"{config.seed}:{c}".encode()).digest())
        return draw
    if method == "verifier":
        return sorted(ids, key=lambda c: (-signals.verifier.get(c, 0.0), -comb[c], _stable(c)))
    if method == "votes":
        return sorted(
            ids,
            key=lambda c: (-signals.tests.get(c, 0.0), -signals.votes().get(c, 0.0),
                           -comb[c], _stable(c)),
        )  # fmt: skip
    survivors = ids
    if method == "cascade":
        if signals.verifier:
            survivors = top_k(survivors, signals.verifier, config.top_k)
        survivors = _within_slack(survivors, signals, config)
        survivors = _best(survivors, signals.tests)
        survivors = _best(survivors, signals.verifier)
    else:  # agentless, as published: fewest regressions, reproduction, then majority
        survivors = _best(survivors, signals.regressions, lowest=True)
        survivors = _best(survivors, signals.tests)
        survivors = _best(survivors, signals.votes())
    head = order(survivors)
    return head + [c for c in order(ids) if c not in head]


def _disagreement(signals: Signals, winner: str) -> str:
    strong = {k: v for k, v in signals.normalised().items() if k in ("verifier", "tests")}
    if len(strong) < 2:
        return ""
    favourites = {k: set(_best(signals.ids, v)) for k, v in strong.items()}
    sets = list(favourites.values())
    if sets[0] & sets[1]:
        return ""
    return "; ".join(f"{k} favours {', '.join(sorted(v))}" for k, v in favourites.items())


def select(task_id: str, signals: Signals, config: SelectConfig | None = None) -> Selection:
    config = config or SelectConfig()
    comb = combined(signals, config.weights)
    available = sorted(signals.normalised())
    evidence: dict = {
        "available_signals": available,
        "n_valid_tests": signals.n_valid_tests,
        "n_unpassed_tests": signals.n_unpassed_tests,
        "n_regression_tests": signals.n_regression_tests,
        "agent_choice": signals.agent_choice,
        "agent_reason": signals.agent_reason,
    }
    base = {
        "task_id": task_id,
        "method": config.method,
        "scores": comb,
        "signals": signals.raw(),
        "evidence": evidence,
    }
    if not signals.ids:
        return Selection(**base, rationale="No candidate changes any code; nothing to choose.")
    ranking = rank(signals, config)
    winner = ranking[0]
    evidence["ranking"] = ranking
    confidence = min(max(support(signals, config.weights, winner), 0.0), 1.0)
    runner_up = ranking[1] if len(ranking) > 1 else None
    lead = comb[winner] - comb[runner_up] if runner_up else confidence
    evidence["features"] = selection_features(signals, comb, ranking, confidence)
    if config.calibration is not None:
        evidence["raw_confidence"] = confidence
        confidence = config.calibration.probability(evidence["features"])
    why = _explain(signals, winner, runner_up, config, available)
    tied = signals.tied_fixes(winner) if config.method != "random" else 1
    if tied > 1:
        evidence["tied_fixes"] = tied
        why += (f" It is tied on every signal with {tied - 1} other distinct fix(es), so the "
                "pick among them is arbitrary: they may all be right (equivalent code), or "
                "differ where no test looked.")
    reasons = []
    if not available and config.threshold > 0:
        reasons.append("no signal tells the candidates apart")
    elif available == ["regressions"] and config.threshold > 0:
        reasons.append("only the repository's tests speak, and code that fixes nothing "
                       "passes them too")
    if config.threshold > 0 and confidence <= config.threshold:
        # a threshold must be exceeded: 0.5 at the default is a coin flip
        what = "calibrated confidence" if config.calibration is not None else "confidence"
        reasons.append(f"{what} {confidence:.2f} does not exceed the threshold "
                       f"{config.threshold:g}")  # fmt: skip
    if tied > 1 and config.abstain_on_tie:
        reasons.append(f"{tied} distinct fixes tie on every signal")
    clash = _disagreement(signals, winner)
    if clash:
        evidence["disagreement"] = clash
        if config.abstain_on_disagreement and lead < config.margin:
            reasons.append(f"the signals disagree ({clash})")
    if reasons and config.method != "random":
        return Selection(
            **base, confidence=confidence,
            rationale=f"Abstaining: {' and '.join(reasons)}. The best candidate was {winner}: "
            + why,
        )  # fmt: skip
    return Selection(**base, chosen=winner, confidence=confidence, rationale=why)


def _explain(
    signals: Signals, winner: str, runner_up: str | None, config: SelectConfig,
    available: list[str],
) -> str:  # fmt: skip
    parts = [f"{winner} ranks first by the {config.method} method"]
    if signals.verifier:
        parts.append(f"verifier P(YES) {signals.verifier.get(winner, 0.0):.2f}")
    if signals.n_valid_tests:
        parts.append(
            f"passes {signals.tests.get(winner, 0):g} of {signals.n_valid_tests} valid "
            "reproduction tests"
        )
    if signals.n_regression_tests:
        parts.append(
            f"breaks {signals.regressions.get(winner, 0):g} of {signals.n_regression_tests} "
            "base-passing regression tests"
        )
    if signals.behaviour_votes:
        share = signals.behaviour_votes.get(winner, 0.0)
        parts.append(f"{share:.0%} of the pool behaves as it does on the probe calls")
    elif signals.patch_votes and (len(signals.ids) > 1 or signals.voters > 1):
        share = signals.patch_votes.get(winner, 0.0)
        parts.append(f"its normalised patch is shared by {share:.0%} of the pool")
    if signals.tournament:
        parts.append(f"the pairwise judge scores its behaviour "
                     f"{signals.tournament.get(winner, 0.0):.2f}")  # fmt: skip
    if signals.agent_choice:
        agreed = "agrees" if signals.agent_choice == winner else f"chose {signals.agent_choice}"
        parts.append(f"the selection agent {agreed}")
    text = "; ".join(parts)
    if runner_up:
        comb = combined(signals, config.weights)
        text += f". Runner-up {runner_up} (combined {comb[runner_up]:.2f} vs {comb[winner]:.2f})"
    return text + f"; signals used: {', '.join(available) or 'none'}."
