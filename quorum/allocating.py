"""A policy at work in a live run: the `Allocator` the rollouts consult (agent/allocation.py).
As trajectories finish it runs the pass matrix incrementally (each new candidate against
every test so far, the earlier candidates against each new test, the unpatched code
against all: a test that passes there is not validated), reads the spend from the ledger,
and asks the policy. Every decision is recorded for allocation.json and the report."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from agent.allocation import AllocationPolicy, AllocationState, Decision
from agent.llm import Ledger
from envs.candidate import Candidate, ReproTest
from quorum.allocation import finished_from
from quorum.sandboxes import SandboxFactory
from selection.matrix import ORIGINAL, Cell, PassMatrix, build_matrix


class PolicyAllocator:
    def __init__(self, policy: AllocationPolicy, task_id: str, ledger: Ledger,
                 test_sandbox: SandboxFactory, *, test_timeout_s: float = 120,
                 writers: Sequence[ReproTest] = ()) -> None:  # fmt: skip
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
        spend = self.ledger.report()
        seen = [finished_from(c, matrix, c.scores.get("verifier")) for c in finished]
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

    def record(self) -> dict[str, Any]:
        """allocation.json: the policy, why sampling stopped, every decision."""
        last = self.decisions[-1]["decision"] if self.decisions else None
        stopped = last["reason"] if last and last["kind"] == "stop" else ""
        return {"policy": self.policy.name, "stopped": stopped, "decisions": self.decisions}
