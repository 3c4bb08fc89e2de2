"""How many trajectories to spend on an instance: the allocation-policy protocol and the
values it reads and answers with.

The rollouts (agent/) consult a policy as trajectories finish; the policies that read
selection signals (clusters, validated tests) live in quorum/allocation.py, which the
agent package may not import, so only the protocol and its plain data live here. Every
decision passes through `within_caps`: no policy can launch past N or past the ledger's
caps, and each decision carries the reason a report shows."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Annotated, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field

from agent.llm.ledger import BudgetCaps
from envs.candidate import Candidate


class FinishedCandidate(BaseModel):
    """What a policy knows of one finished trajectory (in the order they finished)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    cluster: str = Field("", description="normalised-patch key; '' = no code change")
    tests: dict[str, bool] = Field(
        default_factory=dict, description="validated test id -> passed with this patch")
    wrote: list[str] = Field(
        default_factory=list, description="the validated tests this trajectory wrote")
    verifier: float | None = Field(None, ge=0, le=1, description="P(YES), when scored")
    cost_usd: float = Field(0.0, ge=0)
    tokens: int = Field(0, ge=0)


class AllocationState(BaseModel):
    """One instance's sampling so far. `max_n` is N, the most trajectories it may get;
    `spent_*` count every trajectory started, running ones' partial cost included."""

    model_config = ConfigDict(extra="forbid")

    task_id: str
    max_n: int = Field(ge=0)
    launched: int = Field(0, ge=0)
    running: int = Field(0, ge=0)
    finished: list[FinishedCandidate] = Field(default_factory=list)
    valid_tests: list[str] = Field(
        default_factory=list, description="tests validated so far (they fail on the base)")
    spent_usd: float = Field(0.0, ge=0)
    spent_tokens: int = Field(0, ge=0)
    caps: BudgetCaps = Field(default_factory=BudgetCaps)


class Launch(BaseModel):
    model_config = ConfigDict(extra="forbid")
    kind: Literal["launch"] = "launch"
    k: int = Field(gt=0)
    reason: str


class Wait(BaseModel):
    """Launch nothing now; ask again when the next trajectory finishes."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["wait"] = "wait"
    reason: str


class Stop(BaseModel):
    """Launch nothing more, cancel what runs, and select."""

    model_config = ConfigDict(extra="forbid")
    kind: Literal["stop"] = "stop"
    reason: str


Decision = Annotated[Launch | Wait | Stop, Field(discriminator="kind")]


class AllocationPolicy(Protocol):
    name: str

    def decide(self, state: AllocationState) -> Decision: ...


class Allocator(Protocol):
    """What the rollouts consult (quorum/ builds it around a policy): before the first
    launch and whenever a trajectory finishes. It sees the finished solver candidates (in
    the order they finished); it works out clusters, tests and spend itself."""

    async def decide(self, finished: Sequence[Candidate], *, launched: int, running: int,
                     max_n: int) -> Decision: ...


def mean_cost(state: AllocationState) -> float:
    """The cost of a trajectory as seen so far (0 before any has finished)."""
    done = state.finished
    return sum(c.cost_usd for c in done) / len(done) if done else 0.0


def affordable(state: AllocationState) -> int:
    """How many more trajectories fit under N and the run caps: a trajectory is counted at
    its own cap where one is set (the ledger's worst case), else at the mean so far."""
    room = state.max_n - state.launched
    caps = state.caps
    if caps.run_usd is not None:
        each = caps.trajectory_usd if caps.trajectory_usd is not None else mean_cost(state)
        left = caps.run_usd - state.spent_usd
        if left <= 0:
            return 0
        if each > 0:
            room = min(room, int(left // each))
    if caps.run_tokens is not None:
        done = state.finished
        each_t = caps.trajectory_tokens if caps.trajectory_tokens is not None else (
            sum(c.tokens for c in done) / len(done) if done else 0)
        left_t = caps.run_tokens - state.spent_tokens
        if left_t <= 0:
            return 0
        if each_t > 0:
            room = min(room, int(left_t // each_t))
    return max(room, 0)


def within_caps(decision: Decision, state: AllocationState) -> Decision:
    """The decision, clipped to what N and the caps allow; a launch nothing fits becomes
    a wait while trajectories still run, else a stop, saying which limit held."""
    if not isinstance(decision, Launch):
        return decision
    fits = affordable(state)
    if fits >= decision.k:
        return decision
    if fits > 0:
        return Launch(k=fits, reason=f"{decision.reason} (clipped to {fits}: N or budget)")
    limit = "N reached" if state.launched >= state.max_n else "the budget cap leaves no room"
    if state.running:
        return Wait(reason=f"{limit}; waiting for {state.running} running")
    return Stop(reason=f"stopped: {limit} after {state.launched} trajectories")
