"""What an allocation policy did in a run, from its allocation.json (quorum/allocating.py):
the policy, why sampling stopped, and what stopping saved — trajectories never started and
those cancelled while they ran. Read field by field like the rest of the view: a run
without the file (fixed allocation, or an earlier version) has no allocation view at all."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from quorum.report.readers import _dict, _int, _num


@dataclass
class DecisionRow:
    finished: int | None
    launched: int | None
    running: int | None
    spent_usd: float | None
    kind: str  # launch, wait, stop (or whatever a later version writes)
    k: int | None  # trajectories launched by this decision
    reason: str


@dataclass
class AllocationView:
    policy: str
    stopped: str | None  # why the policy stopped sampling; None: it never did
    planned: int | None  # N solver trajectories a round × rounds (options.json)
    launched: int  # solver trajectories the policy started, every round
    not_started: int | None  # planned − launched
    cancelled: int  # running when the policy stopped (cut short; their spend is counted)
    cancelled_ids: list[str] = field(default_factory=list)  # trajectories with no candidate
    decisions: list[DecisionRow] = field(default_factory=list)

    @property
    def saved(self) -> int | None:
        """Trajectories the policy spared: not started, plus cut short."""
        return None if self.not_started is None else self.not_started + self.cancelled





def rounds_of(decisions: list[DecisionRow]) -> list[list[DecisionRow]]:
    """Decisions split by round: each round's first question is asked before any launch."""
    rounds: list[list[DecisionRow]] = []
    for row in decisions:
        if not rounds or (row.launched == 0 and row.finished == 0):
            rounds.append([])
        rounds[-1].append(row)
    return rounds


def build_allocation(data: Any, options: dict[str, Any], unrecorded: list[str]
                     ) -> AllocationView | None:  # fmt: skip
    """The view of allocation.json's contents (`data`), or None when there is none.
    `unrecorded`: the solver trajectories that never became a candidate — after a stop,
    the ones it cancelled (mid-step, or while their own test ran)."""
    data = _dict(data)
    if not data:
        return None
    rows = []
    for item in data.get("decisions") if isinstance(data.get("decisions"), list) else []:
        item = _dict(item)
        decision = _dict(item.get("decision"))
        rows.append(DecisionRow(
            finished=_int(item.get("finished")), launched=_int(item.get("launched")),
            running=_int(item.get("running")), spent_usd=_num(item.get("spent_usd")),
            kind=str(decision.get("kind") or "?"), k=_int(decision.get("k")),
            reason=str(decision.get("reason") or ""),
        ))  # fmt: skip
    launched = cancelled = 0
    rounds = rounds_of(rows)
    for round_ in rounds:
        last = round_[-1]
        launched += (last.launched or 0) + (last.k or 0 if last.kind == "launch" else 0)
        if last.kind == "stop":
            cancelled += last.running or 0
    rollout = _dict(options.get("rollout"))
    n, n_rounds = _int(rollout.get("n")), _int(rollout.get("rounds")) or 1
    planned = n * max(n_rounds, len(rounds)) if n is not None else None
    stopped = data.get("stopped") if isinstance(data.get("stopped"), str) else ""
    stopped = stopped.removeprefix("stopped: ")  # the reason, as "Sampling stopped: …" says
    return AllocationView(
        policy=str(data.get("policy") or "absent"),
        stopped=stopped or None,
        planned=planned,
        launched=launched,
        not_started=max(planned - launched, 0) if planned is not None else None,
        cancelled=cancelled,
        cancelled_ids=sorted(unrecorded) if stopped else [],
        decisions=rows,
    )
