"""Synthetic outcome tables, as in Large Language Monkeys: each instance has a success
probability p ~ Beta(a, b); each of its N candidates is right with probability p. Right
candidates share one patch cluster and pass every good test; wrong ones fall into a few
clusters (a Chinese-restaurant draw), and each wrong cluster passes each test with
probability `wrong_pass`, the same for all its members. A candidate writes a validated
test with probability `write_test`; a right one's test is good, a wrong one's is good
with probability `good_test_from_wrong` (else only its own cluster passes it). Verifier
scores: Beta draws with a higher mean for right candidates. Seeded: the same parameters
and seed give the same table.

`fit_beta` fits (a, b) to graded tables by the method of moments of the beta-binomial
(the binomial noise of k successes in n is removed from the spread of k / n)."""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envs.loader import load_records
from quorum.outcomes import OutcomeCandidate, OutcomeInstance, OutcomeTableError
from sandbox.errors import QuorumError


class FitError(QuorumError):
    """Too little graded data to fit a Beta distribution."""


class BetaFit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    a: float
    b: float
    instances: int
    candidates: int
    method: str = "method of moments (beta-binomial)"


def fit_beta(counts: Sequence[tuple[int, int]]) -> BetaFit:
    """(successes, trials) per instance -> Beta(a, b) of the per-instance success rate.
    Mean = pooled rate; 1 / (a + b + 1) = (Var(k/n) / (m(1-m)) - E[1/n]) / (1 - E[1/n])."""
    counts = [(k, n) for k, n in counts if n > 0]
    if len(counts) < 2:
        raise FitError(f"a Beta fit needs at least 2 graded instances, got {len(counts)}",
                       hint="give more recorded runs, or --beta-a/--beta-b")  # fmt: skip
    mean = sum(k for k, _ in counts) / sum(n for _, n in counts)
    if not 0 < mean < 1:
        raise FitError(f"every graded candidate {'passes' if mean else 'fails'}; no spread to fit")
    rates = [k / n for k, n in counts]
    var = sum((r - mean) ** 2 for r in rates) / len(rates)
    inv_n = sum(1 / n for _, n in counts) / len(counts)
    rho = (var / (mean * (1 - mean)) - inv_n) / (1 - inv_n) if inv_n < 1 else 0.0
    rho = min(max(rho, 1e-3), 0.999)  # under-dispersed data: nearly a point mass
    total = 1 / rho - 1
    return BetaFit(a=mean * total, b=(1 - mean) * total, instances=len(counts),
                   candidates=sum(n for _, n in counts))  # fmt: skip


def counts_of(tables: Sequence[OutcomeInstance]) -> list[tuple[int, int]]:
    """Graded candidates per instance: (resolved, graded)."""
    out = []
    for inst in tables:
        graded = [c.resolved for c in inst.candidates if c.resolved is not None]
        if graded:
            out.append((sum(graded), len(graded)))
    return out


class PassCount(BaseModel):
    """One instance's grades without the candidates: a counts file's line."""

    model_config = ConfigDict(extra="forbid")

    instance: str
    resolved: int = Field(ge=0)
    graded: int = Field(ge=1)
    source: str = ""


def read_counts(path: Path) -> list[tuple[int, int]]:
    loaded = load_records(path, PassCount, what="pass counts", error=OutcomeTableError,
                          name_field="instance")  # fmt: skip
    for line, rec in zip(loaded.lines, loaded.records, strict=True):
        if rec.resolved > rec.graded:
            raise OutcomeTableError("resolved exceeds graded", path=path, line=line,
                                    record=rec.instance)  # fmt: skip
    return [(r.resolved, r.graded) for r in loaded.records]


class SyntheticSpec(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: int = Field(200, ge=1)
    n: int = Field(8, ge=1, description="candidates per instance")
    beta_a: float = Field(gt=0)
    beta_b: float = Field(gt=0)
    seed: int = 0
    given_tests: int = Field(1, ge=0, description="good tests from test writers")
    write_test: float = Field(0.7, ge=0, le=1)
    good_test_from_wrong: float = Field(0.5, ge=0, le=1)
    wrong_pass: float = Field(0.4, ge=0, le=1, description="a wrong cluster passes a test")
    wrong_spread: float = Field(1.5, gt=0, description="CRP concentration of wrong clusters")
    no_change: float = Field(0.1, ge=0, le=1, description="a wrong candidate changes nothing")
    verifier_right: tuple[float, float] = (4.0, 2.0)
    verifier_wrong: tuple[float, float] = (2.0, 3.0)
    cost_usd: float = Field(0.02, gt=0, description="mean trajectory cost (lognormal)")
    regression_tests: int = Field(20, ge=0)


def generate(spec: SyntheticSpec) -> list[OutcomeInstance]:
    rng = random.Random(spec.seed)
    return [_instance(spec, rng, i) for i in range(spec.instances)]


def _instance(spec: SyntheticSpec, rng: random.Random, index: int) -> OutcomeInstance:
    p = rng.betavariate(spec.beta_a, spec.beta_b)
    given = [f"s{index}-g{j}" for j in range(spec.given_tests)]
    good = set(given)
    owner: dict[str, str] = {}  # a bad test -> the wrong cluster that wrote it
    wrong_sizes: list[int] = []
    drawn = []
    for j in range(spec.n):
        right = rng.random() < p
        if right:
            cluster = "fix"
        elif rng.random() < spec.no_change:
            cluster = ""
        else:  # Chinese restaurant: join a wrong cluster by size, or open a new one
            weights = [*wrong_sizes, spec.wrong_spread]
            pick = rng.choices(range(len(weights)), weights)[0]
            if pick == len(wrong_sizes):
                wrong_sizes.append(0)
            wrong_sizes[pick] += 1
            cluster = f"w{pick}"
        wrote = []
        if cluster and rng.random() < spec.write_test:
            test = f"s{index}-t{j}"
            wrote.append(test)
            if right or rng.random() < spec.good_test_from_wrong:
                good.add(test)
            else:
                owner[test] = cluster
        drawn.append((right, cluster, wrote))
    tests = given + [t for _, _, w in drawn for t in w]
    # whether a cluster passes a test is one draw per (cluster, test): members agree
    passes: dict[tuple[str, str], bool] = {}

    def passed(cluster: str, test: str) -> bool:
        if (cluster, test) not in passes:
            if cluster == "fix":
                value = test in good
            elif owner.get(test) == cluster:
                value = True
            else:
                value = rng.random() < spec.wrong_pass
            passes[(cluster, test)] = value
        return passes[(cluster, test)]

    cands = []
    for j, (right, cluster, wrote) in enumerate(drawn):
        a, b = spec.verifier_right if right else spec.verifier_wrong
        cands.append(OutcomeCandidate(
            id=f"s{index}-c{j}",
            resolved=right,
            cluster=cluster,
            tests={t: passed(cluster, t) for t in tests} if cluster else {},
            wrote=wrote,
            broken=0 if right or not cluster else rng.choice([0, 0, 1, 3]),
            verifier=round(rng.betavariate(a, b), 4) if cluster else None,
            cost_usd=round(spec.cost_usd * rng.lognormvariate(-0.125, 0.5), 6),
            tokens=0,
        ))  # fmt: skip
    return OutcomeInstance(instance_id=f"synthetic-{index}", source=f"synthetic seed {spec.seed}",
                           given_tests=given, regression_tests=spec.regression_tests,
                           candidates=cands)  # fmt: skip
