"""Selection metrics against labels: accuracy of the selector, of a random choice, and of
the oracle (any resolved candidate in the pool, i.e. pool coverage).

Labels come from official evaluation files (`*.result.json`, its `resolved` list) and are
keyed by candidate id; an instance with an unlabelled candidate is left out and counted."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envs.loader import load_document
from selection.pool import Group, PoolError, source_name
from selection.result import Selection


class _Labels(BaseModel):
    """An official evaluation file: only its `resolved` list is read."""

    model_config = ConfigDict(extra="allow")

    resolved: list[str] = Field(default_factory=list)


def read_labels(path: Path, groups: Mapping[str, Group]) -> dict[str, bool]:
    """candidate id -> resolved, for the candidates whose source is this file's stem."""
    labels = load_document(path, _Labels, what="labels file", error=PoolError, fmt="json")
    resolved = set(labels.resolved)
    prefix = source_name(path) + ":"
    return {
        c.id: c.task_id in resolved
        for g in groups.values()
        for c in g.candidates
        if c.id.startswith(prefix)
    }


class SelectionMetrics(BaseModel):
    model_config = ConfigDict(extra="forbid")

    instances: int
    unlabelled: int
    accuracy: float  # resolved choices / instances (an abstention is not a resolution)
    answered: int
    precision: float  # resolved choices / answered
    random: float  # expected accuracy of a uniform pick among the candidates with a patch
    oracle: float  # instances with any resolved candidate: the pool's coverage
    single_best: dict[str, float]  # each source alone


def evaluate(
    groups: Mapping[str, Group],
    selections: Mapping[str, Selection],
    labels: Mapping[str, bool],
) -> SelectionMetrics:
    n = right = answered = unlabelled = 0
    rand = oracle = 0.0
    per_source: dict[str, int] = {}
    for task_id, group in groups.items():
        ids = [c.id for c in group.candidates if c.id not in group.vote_only]
        if not ids or any(c not in labels for c in ids):
            unlabelled += 1
            continue
        n += 1
        solvers = [c.id for c in group.choosable]
        good = [c for c in solvers if labels[c]]
        rand += len(good) / len(solvers) if solvers else 0.0
        oracle += bool(good)
        for c in ids:
            per_source[c.rsplit(":", 1)[0]] = per_source.get(c.rsplit(":", 1)[0], 0) + labels[c]
        chosen = selections[task_id].chosen if task_id in selections else None
        if chosen is not None:
            answered += 1
            right += labels.get(chosen, False)
    div = max(n, 1)
    return SelectionMetrics(
        instances=n, unlabelled=unlabelled, accuracy=right / div, answered=answered,
        precision=right / max(answered, 1), random=rand / div, oracle=oracle / div,
        single_best={s: k / div for s, k in sorted(per_source.items())},
    )  # fmt: skip


def format_metrics(m: SelectionMetrics, method: str) -> Sequence[str]:
    lines = [
        f"instances evaluated: {m.instances} (left out, unlabelled candidates: {m.unlabelled})",
        f"selection accuracy ({method}): {m.accuracy:.1%}  "
        f"(answered {m.answered}, precision {m.precision:.1%})",
        f"random choice: {m.random:.1%}",
        f"oracle (pool coverage): {m.oracle:.1%}",
    ]
    lines += [f"  {s} alone: {v:.1%}" for s, v in m.single_best.items()]
    return lines


class ReliabilityRow(BaseModel):
    """Selection at one confidence threshold: answer when the chosen candidate's confidence
    reaches it, abstain otherwise."""

    model_config = ConfigDict(extra="forbid")

    threshold: float
    instances: int
    answered: int
    abstention: float  # 1 - answered / instances
    precision: float | None  # right answers / answered; None when it never answers
    accuracy: float  # right answers / instances


def reliability(
    outcomes: Sequence[tuple[float | None, bool | None]], thresholds: Sequence[float]
) -> list[ReliabilityRow]:
    """The reliability table: abstention rate and precision-when-answering at each threshold.
    An outcome is (the confidence of the chosen candidate, None where selection abstained;
    whether the chosen candidate is right). A choice without a recorded confidence counts as
    confidence 0: it answers only at threshold 0."""
    rows = []
    n = len(outcomes)
    for t in thresholds:
        answered = [right for conf, right in outcomes if conf is not None and conf >= t]
        good = sum(bool(r) for r in answered)
        rows.append(ReliabilityRow(
            threshold=t, instances=n, answered=len(answered),
            abstention=1 - len(answered) / n if n else 0.0,
            precision=good / len(answered) if answered else None,
            accuracy=good / n if n else 0.0,
        ))  # fmt: skip
    return rows
