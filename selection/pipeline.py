"""Selection for one task from whatever evidence exists: the pool, optionally the
reproduction-test matrix, the regression matrix, a verifier and the selection agent's
verdict. Used by `quorum solve` (with everything) and `quorum select` (offline, often with
patches only)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence

from envs.candidate import Candidate
from selection.agent import AgentVerdict
from selection.hybrid import SelectConfig, rank, select
from selection.matrix import PassMatrix
from selection.pool import Group
from selection.result import Selection
from selection.signals import collect_signals
from selection.verifier import Verifier, VerifierItem


async def verify_group(
    group: Group,
    verifier: Verifier,
    issue: str,
    trajectories: Mapping[str, str] | None = None,
) -> dict[str, float]:
    """Scores for every candidate, computed once per normalised-patch cluster (equal
    patches get equal judgements; the representative's trajectory stands for them)."""
    trajectories = trajectories or {}
    clusters = group.clusters()
    reps = {ids[0]: ids for ids in clusters.values()}
    by_id = {c.id: c for c in group.candidates}
    items = [
        VerifierItem(candidate_id=rep, issue=issue, patch=by_id[rep].patch,
                     trajectory=trajectories.get(rep, ""))
        for rep in reps
    ]  # fmt: skip
    scored = await verifier.score(items)
    return {cid: scored[rep] for rep, ids in reps.items() if rep in scored for cid in ids}


async def select_group(
    group: Group,
    *,
    config: SelectConfig | None = None,
    repro: PassMatrix | None = None,
    regress: PassMatrix | None = None,
    verifier: Verifier | None = None,
    issue: str = "",
    trajectories: Mapping[str, str] | None = None,
    agent_choice: str | None = None,
    agent_reason: str = "",
    agent: Callable[[Sequence[Candidate]], Awaitable[AgentVerdict]] | None = None,
    agent_top: int = 3,
) -> Selection:
    """`agent`, when given, is shown the top `agent_top` distinct patches by the other
    signals and its choice joins them (see selection.agent)."""
    config = config or SelectConfig()
    scores = await verify_group(group, verifier, issue, trajectories) if verifier else None
    signals = collect_signals(group, repro, regress, scores, agent_choice, agent_reason)
    verdict = None
    if agent is not None and len(group.clusters()) > 1:
        by_id = {c.id: c for c in group.candidates}
        keys = group.patch_keys
        top: list[Candidate] = []
        for cid in rank(signals, config):  # one per normalised patch, best first
            if all(keys[cid] != keys[c.id] for c in top):
                top.append(by_id[cid])
        verdict = await agent(top[:agent_top])
        signals = signals.model_copy(
            update={"agent_choice": verdict.choice, "agent_reason": verdict.reason}
        )
    selection = select(group.task_id, signals, config)
    if verdict is not None:
        selection.evidence["agent_tests"] = {t.id: t.content for t in verdict.tests}
        selection.evidence["agent_results"] = verdict.results
    selection.evidence["patch_clusters"] = list(group.clusters().values())
    if verifier:
        selection.evidence["verifier"] = verifier.name
    return selection
