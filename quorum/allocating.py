"""A policy at work in a live run: the `Allocator` the rollouts consult (agent/allocation.py).
As trajectories finish it runs the pass matrix incrementally (each new candidate against
every test so far, the earlier candidates against each new test, the unpatched code
against all: a test that passes there is not validated), scores each new patch with the
verifier where it has one (a policy that reads scores needs them before selection; a
`MemoVerifier` lets selection reuse them), reads the spend from the ledger, and asks the
policy. Every decision is recorded for allocation.json and the report."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.allocation import AllocationPolicy, AllocationState, Decision
from agent.llm import Ledger
from envs.candidate import Candidate, ReproTest
from envs.loader import load_json
from quorum.allocation import finished_from
from quorum.report.allocation import build_allocation, rounds_of
from sandbox.protocol import SandboxFactory
from selection.matrix import ORIGINAL, Cell, PassMatrix, build_matrix
from selection.verifier import Verifier, VerifierItem


class PolicyAllocator:
    def __init__(self, policy: AllocationPolicy, task_id: str, ledger: Ledger,
                 test_sandbox: SandboxFactory, *, test_timeout_s: float = 120,
                 writers: Sequence[ReproTest] = (), verifier: Verifier | None = None,
                 issue: str = "",
                 trajectory: Callable[[Candidate], str] | None = None) -> None:  # fmt: skip
        """`verifier`: scores each finished candidate's patch against `issue`, with the
        condensed trajectory `trajectory(candidate)` gives."""
        self.verifier = verifier
        self.issue = issue
        self.trajectory = trajectory or (lambda _c: "")
        self.scores: dict[str, float] = {}
        self.policy = policy
        self.task_id = task_id
        self.ledger = ledger
        self.test_sandbox = test_sandbox
        self.test_timeout_s = test_timeout_s
        self.writers = list(writers)
        self.cells: dict[str, dict[str, Cell]] = {}  # candidate id (or ORIGINAL) -> test -> cell
        self.tests: dict[str, ReproTest] = {}
        self.decisions: list[dict[str, Any]] = []

    async def _update(self, finished: Sequence[Candidate]) -> PassMatrix:
        if self.policy.name != "fixed":  # fixed reads nothing: no extra test runs
            tests = [*self.writers, *(c.test for c in finished if c.test is not None)]
            new_tests = [t for t in tests if t.id not in self.tests]
            old = [c for c in finished if c.id in self.cells]
            new = [c for c in finished if c.id not in self.cells]
            self.tests.update({t.id: t for t in new_tests})
            runs = [(new, list(self.tests.values())), (old, new_tests)]
            for cands, ts in runs:
                if ts and (cands or not self.cells):
                    part = await build_matrix(cands, ts, self.test_sandbox,
                                              test_timeout_s=self.test_timeout_s)  # fmt: skip
                    for cid, row in part.cells.items():
                        self.cells.setdefault(cid, {}).update(row)
            for c in new:
                self.cells.setdefault(c.id, {})
        return PassMatrix(candidate_ids=list(self.cells), test_ids=list(self.tests),
                          cells=self.cells)  # fmt: skip

    async def decide(self, finished: Sequence[Candidate], *, launched: int, running: int,
                     max_n: int) -> Decision:  # fmt: skip
        matrix = await self._update(finished)
        await self._score(finished)
        spend = self.ledger.report()  # after the scoring: it is spend too
        seen = [finished_from(c, matrix, self.scores.get(c.id, c.scores.get("verifier")))
                for c in finished]
        valid = [t for t in matrix.test_ids if ORIGINAL in matrix.cells
                 and not matrix.passed(ORIGINAL, t)]  # fmt: skip
        state = AllocationState(
            task_id=self.task_id, max_n=max_n, launched=launched, running=running,
            finished=seen, valid_tests=valid, spent_usd=spend.total.usd,
            spent_tokens=spend.total.total_tokens, caps=spend.caps,
        )  # fmt: skip
        decision = self.policy.decide(state)
        self.decisions.append({"finished": len(finished), "launched": launched,
                               "running": running, "spent_usd": spend.total.usd,
                               "decision": decision.model_dump()})  # fmt: skip
        return decision

    async def _score(self, finished: Sequence[Candidate]) -> None:
        if self.verifier is None:
            return
        items = [VerifierItem(candidate_id=c.id, issue=self.issue, patch=c.patch,
                              trajectory=self.trajectory(c))
                 for c in finished if c.patch.strip() and c.id not in self.scores]  # fmt: skip
        if items:
            self.scores.update(await self.verifier.score(items))

    def record(self) -> dict[str, Any]:
        """allocation.json: the policy, why sampling stopped, every decision."""
        last = self.decisions[-1]["decision"] if self.decisions else None
        stopped = last["reason"] if last and last["kind"] == "stop" else ""
        return {"policy": self.policy.name, "stopped": stopped, "decisions": self.decisions}


class AllocationOutcome(BaseModel):
    """Why an instance's sampling stopped and what that saved, from its allocation.json
    (absent for `fixed`, which writes none). Trajectory counts are summed over rounds;
    `saved` = `never_started` + `cancelled`, as the policy's reason counts them."""

    model_config = ConfigDict(extra="forbid")

    policy: str
    stopped: str = Field("", description="the policy's reason; '' when it ran to N")
    max_n: int = Field(ge=0, description="trajectories it could have run (N x rounds)")
    launched: int = Field(ge=0)
    finished: int = Field(ge=0, description="finished when sampling stopped")
    cancelled: int = Field(ge=0, description="running when it stopped: cancelled")
    never_started: int = Field(ge=0)
    saved: int = Field(ge=0)
    saved_usd_estimate: float | None = Field(
        None, description="saved x the mean cost of the trajectories that finished"
    )


def read_allocation(run_dir: Path, n: int, trajectory_usd: Sequence[float] = ()
                    ) -> AllocationOutcome | None:  # fmt: skip
    """`n`: solver trajectories a round; `trajectory_usd`: the finished ones' costs. The
    counting is the run report's (quorum/report/allocation.py), so both say the same."""
    path = run_dir / "allocation.json"
    if not path.is_file():
        return None
    raw = load_json(path, what="allocation record")
    view = build_allocation(raw, {"rollout": {"n": n, "rounds": 1}}, [])
    if view is None:
        return None
    never = view.not_started or 0
    finished = sum(r[-1].finished or 0 for r in rounds_of(view.decisions))
    each = sum(trajectory_usd) / len(trajectory_usd) if trajectory_usd else None
    return AllocationOutcome(
        policy=view.policy, stopped=str(raw.get("stopped", "")), max_n=view.planned or 0,
        launched=view.launched, finished=finished, cancelled=view.cancelled,
        never_started=never, saved=never + view.cancelled,
        saved_usd_estimate=round(each * (never + view.cancelled), 9) if each is not None else None,
    )  # fmt: skip
