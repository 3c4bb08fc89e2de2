"""What a trajectory produces: a patch, the test it wrote, and how that test behaved.

These cross from agent/ to selection/, so they live in the layer both may import."""

from __future__ import annotations

import hashlib
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


def content_id(*parts: str, length: int = 12) -> str:
    digest = hashlib.sha256("\x00".join(parts).encode()).hexdigest()
    return digest[:length]


class ReproTest(BaseModel):
    """A reproduction test: fails on the original code, passes once the issue is fixed.
    `kind` says how to read the result: pytest's exit code, or a script's (0 = fixed)."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(description="content hash of path, content and command")
    path: str = Field(description="where the file goes, relative to the workspace")
    content: str
    command: str = Field(description="shell command run from the workspace root")
    kind: Literal["pytest", "script"] = "pytest"
    origin: str = Field(description="trajectory id or test-writer id that wrote it")

    @classmethod
    def make(cls, *, path: str, content: str, command: str, kind: str, origin: str) -> ReproTest:
        return cls(
            id=content_id(path, content, command),
            path=path,
            content=content,
            command=command,
            kind=kind,  # type: ignore[arg-type]
            origin=origin,
        )


class TestOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False  # not a pytest class

    passed: bool
    exit_code: int
    timed_out: bool = False
    duration_s: float = 0.0
    output_tail: str = ""


class Candidate(BaseModel):
    """One trajectory's result. Keyed by `id` (the trajectory id) everywhere."""

    model_config = ConfigDict(extra="forbid")

    id: str
    task_id: str
    patch: str
    solver: str = Field("agent", description="agent, agentless, test_writer, external")
    model: str = ""
    round: int = 0
    test: ReproTest | None = None
    test_on_original: TestOutcome | None = None
    test_on_patched: TestOutcome | None = None
    exit_status: str = Field("", description="submitted, step_limit, budget_exhausted, ...")
    steps: int = 0
    cost_usd: float = 0.0
    tokens: int = 0
    scores: dict[str, float] = Field(default_factory=dict, description="filled by selection")

    @property
    def patch_id(self) -> str:
        return content_id(self.patch)

    @property
    def reproduces(self) -> bool:
        """Its test fails on the original code and passes with its patch, as asked."""
        return bool(
            self.test_on_original
            and self.test_on_patched
            and not self.test_on_original.passed
            and self.test_on_patched.passed
        )
