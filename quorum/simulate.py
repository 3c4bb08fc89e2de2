"""Replay allocation policies over outcome tables and score each final pick with the real
selector (selection.pipeline.select_group over the candidates the policy paid for, the
validated tests known by then, their regression counts and verifier scores).

Time in a replay is the order of finishing: trajectories finish in the order sampled;
`parallel` of them run at once; when a policy stops, the ones still running are cancelled
and charged `partial_share` of their recorded cost. A test becomes known when the
candidate that wrote it finishes (test writers' tests from the start), and is then run on
every finished candidate (the incremental matrix). With `budget_usd_total`, each instance's
cap is what is left of the run-wide budget shared over the instances left, so what a
settled instance saves goes to the later ones. A trajectory whose cost would cross the cap
ends without a result, having spent the rest (the ledger refuses its call)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping, Sequence
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.allocation import AllocationPolicy, AllocationState, FinishedCandidate, Launch, Stop
from agent.llm.ledger import BudgetCaps
from envs.candidate import Candidate
from quorum.outcomes import OutcomeCandidate, OutcomeInstance
from selection.hybrid import SelectConfig
from selection.matrix import ORIGINAL, Cell, PassMatrix
from selection.pipeline import select_group
from selection.pool import Group
from selection.verifier import VerifierItem


class SimConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    max_n: int = Field(8, ge=1, description="the most trajectories per instance, every policy")
    partial_share: float = Field(0.5, ge=0, le=1, description="cost of a cancelled trajectory")
    budget_usd: float | None = Field(None, ge=0, description="per-instance cap")
    budget_usd_total: float | None = Field(None, ge=0, description="run-wide cap")
    use_verifier: bool = True
    selection: SelectConfig = Field(default_factory=SelectConfig)


class InstanceResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instance_id: str
    policy: str
    finished: int
    cancelled: int
    chosen: str | None
    resolved: bool | None = Field(description="the pick passes the hidden tests; None: ungraded")
    covered: bool | None = Field(description="some finished candidate passes them")
    cost_usd: float
    tokens: float = Field(0, description="of finished trajectories, plus the cancelled "
                          "ones' share (partial_share), as cost_usd")
    reason: str


class PolicyFigures(BaseModel):
    model_config = ConfigDict(extra="forbid")

    policy: str
    instances: int
    graded: int
    accuracy: float = Field(description="resolved picks / graded instances (abstain = miss)")
    abstention: float
    wrong: float
    coverage: float
    cost_usd: float
    tokens: float = 0
    trajectories: float = Field(description="mean finished per instance")


class TableVerifier:
    """The verifier protocol over recorded scores (a replay asks no model)."""

    name = "recorded"

    def __init__(self, scores: Mapping[str, float]) -> None:
        self._scores = dict(scores)

    async def score(self, items: Sequence[VerifierItem]) -> dict[str, float]:
        return {i.candidate_id: self._scores[i.candidate_id] for i in items
                if i.candidate_id in self._scores}  # fmt: skip


def _known(inst: OutcomeInstance, done: Sequence[OutcomeCandidate]) -> list[str]:
    seen = dict.fromkeys(inst.given_tests)
    for c in done:
        seen.update(dict.fromkeys(c.wrote))
    return list(seen)


def _seen(c: OutcomeCandidate, tests: list[str], verifier: bool = True) -> FinishedCandidate:
    """As the policy sees it; without `verifier` (SimConfig.use_verifier) no score."""
    return FinishedCandidate(
        id=c.id, cluster=c.cluster, tests={t: c.tests.get(t, False) for t in tests},
        wrote=[t for t in c.wrote if t in tests],
        verifier=c.verifier if verifier else None, cost_usd=c.cost_usd, tokens=c.tokens,
    )  # fmt: skip


def pick(inst: OutcomeInstance, done: Sequence[OutcomeCandidate], config: SimConfig) -> str | None:
    """The real selector's choice among the finished candidates, or None (abstain)."""
    if not done:
        return None
    tests = _known(inst, done)
    # the patch text only has to be non-empty for a code change: patch_keys carry the cluster
    cands = [Candidate(id=c.id, task_id=inst.instance_id, solver="agent", cost_usd=c.cost_usd,
                       patch=f"cluster {c.cluster}\n" if c.cluster else "")
             for c in done]  # fmt: skip
    group = Group(task_id=inst.instance_id, candidates=cands,
                  patch_keys={c.id: c.cluster for c in done})  # fmt: skip
    changed = [c for c in done if c.cluster]
    repro = PassMatrix(
        candidate_ids=[ORIGINAL, *(c.id for c in changed)], test_ids=tests,
        cells={ORIGINAL: {t: Cell(passed=False) for t in tests},
               **{c.id: {t: Cell(passed=c.tests.get(t, False)) for t in tests} for c in changed}},
    )  # fmt: skip
    regress = None
    if inst.regression_tests:
        reg = [f"r{i}" for i in range(inst.regression_tests)]
        regress = PassMatrix(
            candidate_ids=[ORIGINAL, *(c.id for c in changed)], test_ids=reg,
            cells={ORIGINAL: {t: Cell(passed=True) for t in reg},
                   **{c.id: {t: Cell(passed=i >= c.broken) for i, t in enumerate(reg)}
                      for c in changed}},
        )  # fmt: skip
    scores = {c.id: c.verifier for c in changed if c.verifier is not None}
    verifier = TableVerifier(scores) if config.use_verifier and scores else None
    selection = asyncio.run(select_group(group, config=config.selection, repro=repro,
                                         regress=regress, verifier=verifier))  # fmt: skip
    return selection.chosen


def replay(inst: OutcomeInstance, policy: AllocationPolicy, config: SimConfig,
           budget_usd: float | None = None) -> InstanceResult:  # fmt: skip
    table = inst.candidates[: config.max_n]
    by_id = {c.id: c for c in table}
    done: list[OutcomeCandidate] = []
    running: list[OutcomeCandidate] = []
    launched = 0
    cut = 0.0  # spent by trajectories the cap ended
    reason = ""
    caps = BudgetCaps(run_usd=budget_usd)
    for _ in range(4 * len(table) + 4):
        tests = _known(inst, done)
        finished = [_seen(c, tests, config.use_verifier) for c in done]
        each = sum(c.cost_usd for c in done) / len(done) if done else 0.0
        state = AllocationState(
            task_id=inst.instance_id, max_n=len(table), launched=launched, running=len(running),
            finished=finished, valid_tests=tests, caps=caps,
            spent_usd=sum(c.cost_usd for c in done) + each * len(running),
        )  # fmt: skip
        decision = policy.decide(state)
        if isinstance(decision, Stop):
            reason = decision.reason
            break
        if isinstance(decision, Launch):
            running += table[launched : launched + decision.k]
            launched = min(launched + decision.k, len(table))
            continue
        if not running:  # a wait with nothing to wait for: the policy is done
            reason = decision.reason
            break
        spent = sum(c.cost_usd for c in done)
        if budget_usd is not None and spent + running[0].cost_usd > budget_usd:
            # the ledger refuses the call that would cross the cap: this trajectory ends
            # without a result, having spent the rest, and so do those still running
            cut = budget_usd - spent
            reason = f"stopped: the budget cap ${budget_usd:.4f} ended {len(running)} running"
            running = []
            break
        done.append(running.pop(0))
    cancelled = running
    chosen = pick(inst, done, config)
    graded = [c.resolved for c in done if c.resolved is not None]
    cost = (inst.overhead_usd + sum(c.cost_usd for c in done) + cut
            + config.partial_share * sum(c.cost_usd for c in cancelled))  # fmt: skip
    tokens = (sum(c.tokens for c in done)
              + config.partial_share * sum(c.tokens for c in cancelled))  # fmt: skip
    return InstanceResult(
        instance_id=inst.instance_id, policy=policy.name, finished=len(done),
        cancelled=len(cancelled), chosen=chosen,
        resolved=by_id[chosen].resolved if chosen else (False if graded else None),
        covered=any(graded) if graded else None, cost_usd=round(cost, 9), tokens=tokens,
        reason=reason,
    )  # fmt: skip


def run_policy(tables: Sequence[OutcomeInstance], policy: AllocationPolicy,
               config: SimConfig) -> list[InstanceResult]:  # fmt: skip
    out: list[InstanceResult] = []
    left = config.budget_usd_total
    for i, inst in enumerate(tables):
        cap = config.budget_usd
        if left is not None:
            share = max(left, 0.0) / (len(tables) - i)
            cap = share if cap is None else min(cap, share)
        result = replay(inst, policy, config, cap)
        if left is not None:
            left -= result.cost_usd
        out.append(result)
    return out


def figures(policy: str, results: Sequence[InstanceResult]) -> PolicyFigures:
    graded = [r for r in results if r.resolved is not None]
    n = len(graded) or 1
    return PolicyFigures(
        policy=policy, instances=len(results), graded=len(graded),
        accuracy=sum(bool(r.resolved) for r in graded) / n,
        abstention=sum(r.chosen is None for r in graded) / n,
        wrong=sum(r.chosen is not None and not r.resolved for r in graded) / n,
        coverage=sum(bool(r.covered) for r in graded) / n,
        cost_usd=round(sum(r.cost_usd for r in results), 6),
        tokens=sum(r.tokens for r in results),
        trajectories=sum(r.finished for r in results) / (len(results) or 1),
    )  # fmt: skip


def comparisons(figs: Mapping[str, PolicyFigures]) -> dict[str, float]:
    """cost_ratio_X_vs_fixed and accuracy_delta_X_vs_fixed (in points) for each policy X,
    and token_ratio_X_vs_fixed where the tables count tokens (synthetic ones do not: a
    ratio of 0/0 is left out, not printed as 0). Where fixed cost nothing (a free model:
    the embedded one) the cost ratio is the token ratio."""
    base = figs.get("fixed")
    out: dict[str, float] = {}
    if base is None:
        return out
    for name, f in figs.items():
        if name == "fixed":
            continue
        tokens = f.tokens / base.tokens if base.tokens else None
        cost = f.cost_usd / base.cost_usd if base.cost_usd else tokens
        if cost is not None:
            out[f"cost_ratio_{name}_vs_fixed"] = cost
        if tokens is not None:
            out[f"token_ratio_{name}_vs_fixed"] = tokens
        out[f"accuracy_delta_{name}_vs_fixed"] = 100 * (f.accuracy - base.accuracy)
    return out


class SimReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(description="the table, seed, Beta fit, policies")
    figures: dict[str, PolicyFigures]
    comparisons: dict[str, float]
    instances: list[InstanceResult]


def simulate(
    tables: Sequence[OutcomeInstance],
    policies: Sequence[AllocationPolicy],
    config: SimConfig,
    parameters: Mapping[str, Any] | None = None,
) -> SimReport:
    results = {p.name: run_policy(tables, p, config) for p in policies}
    figs = {name: figures(name, rows) for name, rows in results.items()}
    params = {**(parameters or {}), **config.model_dump(exclude={"selection"}),
              "selection_method": config.selection.method,
              "policies": {p.name: p.model_dump() if isinstance(p, BaseModel) else {}
                           for p in policies}}  # fmt: skip
    return SimReport(parameters=params, figures=figs, comparisons=comparisons(figs),
                     instances=[r for rows in results.values() for r in rows])  # fmt: skip


def format_report(report: SimReport) -> str:
    """name=value lines (parameters, then figures, then the comparisons) and a table."""
    lines = [f"{k}={json.dumps(v) if isinstance(v, dict | list) else v}"
             for k, v in report.parameters.items()]  # fmt: skip
    cols = ["accuracy", "abstention", "wrong", "coverage", "cost_usd", "tokens", "trajectories"]
    if not any(f.tokens for f in report.figures.values()):
        cols.remove("tokens")  # tables without token counts (synthetic): no column of zeros
    for name, f in report.figures.items():
        lines += [f"{name}_{c}={getattr(f, c):.4f}" for c in cols]
    lines += [f"{k}={v:.4f}" for k, v in report.comparisons.items()]
    lines += ["", f"| policy | instances | graded | {' | '.join(cols)} |",
              "|" + " --- |" * (len(cols) + 3)]  # fmt: skip
    for name, f in report.figures.items():
        cells = " | ".join(f"{getattr(f, c):.3f}" for c in cols)
        lines.append(f"| {name} | {f.instances} | {f.graded} | {cells} |")
    return "\n".join(lines)
