"""Every signal about a task's candidates in one model, keyed by candidate id, each also
normalised to [0, 1] for the weighted combination. A signal that is not available (no
verifier, no valid test, no regression test, a pool of one) is absent rather than zero,
so it neither helps nor hurts anyone."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from selection.behaviour import BehaviourTable
from selection.matrix import PassMatrix
from selection.pool import Group
from selection.scores import b4_scores, patch_votes, regression_counts, test_votes


class Signals(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ids: list[str] = Field(description="the candidates with a code change, in pool order")
    verifier: dict[str, float] = Field(default_factory=dict, description="P(YES) normalised")
    tests: dict[str, float] = Field(default_factory=dict, description="valid tests passed")
    n_valid_tests: int = Field(0, description="valid tests that some candidate passes")
    n_unpassed_tests: int = Field(0, description="valid tests no candidate passes (left out)")
    regressions: dict[str, float] = Field(default_factory=dict, description="tests broken")
    n_regression_tests: int = Field(0, description="tests passing on the base")
    patch_votes: dict[str, float] = Field(default_factory=dict, description="cluster share")
    voters: int = Field(0, description="candidates voting in the patch majority")
    behaviour_votes: dict[str, float] = Field(
        default_factory=dict, description="behaviour-cluster share; replaces patch_votes")
    behaviour_keys: dict[str, str] = Field(
        default_factory=dict, description="behaviour cluster: equal keys, one behaviour")
    b4: dict[str, float] = Field(default_factory=dict)
    tournament: dict[str, float] = Field(
        default_factory=dict, description="the pairwise judge's score of its behaviour cluster")
    agent_choice: str | None = None
    agent_reason: str = ""
    cost: dict[str, float] = Field(default_factory=dict)
    patch_keys: dict[str, str] = Field(
        default_factory=dict, description="normalised-patch key: equal keys, one fix")

    def normalised(self) -> dict[str, dict[str, float]]:
        """signal -> id -> value in [0, 1], higher is better; only available signals."""
        out: dict[str, dict[str, float]] = {}
        if self.verifier:
            out["verifier"] = {c: self.verifier.get(c, 0.0) for c in self.ids}
        if self.n_valid_tests:
            out["tests"] = {c: self.tests.get(c, 0.0) / self.n_valid_tests for c in self.ids}
            if self.b4:
                out["b4"] = {c: self.b4.get(c, 0.0) for c in self.ids}
        if self.n_regression_tests:
            out["regressions"] = {
                c: 1.0 - self.regressions.get(c, 0.0) / self.n_regression_tests for c in self.ids
            }
        if self.behaviour_votes and (len(self.ids) > 1 or self.voters > 1):
            # votes count behaviours where they were observed (a pool of one: no vote)
            out["behaviour_votes"] = {c: self.behaviour_votes.get(c, 0.0) for c in self.ids}
        elif self.patch_votes and (len(self.ids) > 1 or self.voters > 1):
            out["patch_votes"] = {c: self.patch_votes.get(c, 0.0) for c in self.ids}
        if self.tournament:
            out["tournament"] = {c: self.tournament.get(c, 0.0) for c in self.ids}
        if self.agent_choice in self.ids:
            out["agent"] = {c: float(c == self.agent_choice) for c in self.ids}
        return out

    def votes(self) -> dict[str, float]:
        """The majority signal: behaviour clusters where observed, else normalised patches."""
        return self.behaviour_votes or self.patch_votes

    def tied_fixes(self, winner: str) -> int:
        """How many distinct fixes (behaviour clusters where observed, else normalised
        patches) no available signal tells apart from the winner's, its own included: the
        pick among them is arbitrary."""
        norm = self.normalised()

        def profile(c: str) -> tuple[float, ...]:
            return tuple(round(norm[k][c], 9) for k in sorted(norm))

        mine = profile(winner)
        fix = self.behaviour_keys or self.patch_keys
        keys = {fix.get(c, c) for c in self.ids if profile(c) == mine}
        return max(len(keys), 1)

    def raw(self) -> dict[str, dict[str, float]]:
        named = {
            "verifier": self.verifier, "tests": self.tests, "regressions": self.regressions,
            "patch_votes": self.patch_votes, "b4": self.b4, "tournament": self.tournament,
            "behaviour_votes": self.behaviour_votes,
        }  # fmt: skip
        return {k: v for k, v in named.items() if v}


def collect_signals(
    group: Group,
    repro: PassMatrix | None = None,
    regress: PassMatrix | None = None,
    verifier: dict[str, float] | None = None,
    agent_choice: str | None = None,
    agent_reason: str = "",
    tournament: dict[str, float] | None = None,
    behaviour: BehaviourTable | None = None,
) -> Signals:
    """`behaviour`, when usable, replaces patch votes by behaviour votes (and is B4's
    prior): textually different patches that do the same are one fix."""
    ids = [c.id for c in group.choosable]
    votes = {c: v for c, v in patch_votes(group).items() if c in ids}
    table = behaviour if behaviour is not None and behaviour.usable else None
    behaviour_votes = {c: v for c, v in table.votes().items() if c in ids} if table else {}
    cluster = table.cluster_of() if table else {}
    unpassed: list[str] = []
    if repro is not None and len({group.patch_keys[c] for c in ids}) > 1:
        # A valid test that distinct fixes all fail cannot tell them apart, and is most
        # often a wrong test (small models write many): it stays out of the tests signal
        # instead of pulling every score down alike. Against a single fix it is evidence.
        unpassed = [t for t in repro.valid_tests() if not any(repro.passed(c, t) for c in ids)]
        repro = repro.model_copy(
            update={"test_ids": [t for t in repro.test_ids if t not in unpassed]}
        )
    base_passing = (
        [t for t in regress.test_ids if regress.passed("__original__", t)] if regress else []
    )
    return Signals(
        ids=ids,
        verifier={c: s for c, s in (verifier or {}).items() if c in ids},
        tests=test_votes(ids, repro),
        n_valid_tests=len(repro.valid_tests()) if repro else 0,
        n_unpassed_tests=len(unpassed),
        regressions={c: float(n) for c, n in regression_counts(ids, regress).items()},
        n_regression_tests=len(base_passing),
        patch_votes=votes,
        voters=len(group.solvers),
        behaviour_votes=behaviour_votes,
        behaviour_keys={c: f"behaviour-{cluster[c]}" for c in ids if c in cluster},
        b4=b4_scores(ids, repro, prior=behaviour_votes or votes),
        tournament={c: s for c, s in (tournament or {}).items() if c in ids},
        agent_choice=agent_choice,
        agent_reason=agent_reason,
        cost={c.id: c.cost_usd for c in group.choosable},
        patch_keys={c: group.patch_keys[c] for c in ids},
    )
