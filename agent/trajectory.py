"""The record of one trajectory, written to disk after every step."""

from __future__ import annotations

import contextlib
import os
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from agent.exits import ExitRecord, TrajectoryExit
from agent.llm.errors import BudgetExhausted
from agent.redact import redact
from envs.loader import load_document
from sandbox.errors import EngineUnavailable


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid")

    index: int
    thought: str = ""
    tool: str | None = Field(None, description="None when the reply was not a valid action")
    args: dict[str, Any] = Field(default_factory=dict)
    observation: str = ""
    format_error: str | None = None
    cost_usd: float = 0.0
    tokens: int = 0
    duration_s: float = 0.0


class TrajectorySpec(BaseModel):
    """What makes this trajectory different from its siblings (diversity knobs)."""

    model_config = ConfigDict(extra="forbid")

    id: str
    task_id: str
    model: str
    temperature: float
    prompt_variant: str
    round: int = 0
    solver: str = "agent"
    role: str = Field("solver", description="solver, or test_writer (writes tests only)")


class Trajectory(BaseModel):
    model_config = ConfigDict(extra="forbid")

    spec: TrajectorySpec
    steps: list[Step] = Field(default_factory=list)
    exit: ExitRecord | None = Field(None, description="None while running")
    cost_usd: float = 0.0
    tokens: int = 0
    started_at: float = 0.0
    finished_at: float | None = None

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def finished(self) -> bool:
        return self.exit is not None

    @contextlib.contextmanager
    def recording(self, directory: Path) -> Iterator[None]:
        """Around a solver's work: how it ended becomes the exit record (a model or sandbox
        failure ends this trajectory, not the run), and the record is saved in any case.
        A cancelled trajectory, or one whose Docker engine stopped answering (that ends the
        run), is saved without an exit, so a resume restarts it."""
        try:
            yield
        except EngineUnavailable:
            raise  # the engine is gone, not this trajectory: left unfinished, a rerun redoes it
        except TrajectoryExit as end:
            self.exit = end.record
        except BudgetExhausted as exc:
            self.exit = ExitRecord(status="budget_exhausted", reason=str(exc), step=len(self.steps))
        except Exception as exc:
            self.exit = ExitRecord(
                status="crashed", reason=f"{type(exc).__name__}: {exc}", step=len(self.steps)
            )
        finally:
            self.finished_at = time.time()
            self.save(directory)

    def save(self, directory: Path) -> Path:
        """Atomic write: a crash mid-write leaves the previous step's record, not half a file."""
        directory.mkdir(parents=True, exist_ok=True)
        target = directory / f"{self.id}.json"
        fd, tmp = tempfile.mkstemp(dir=directory, prefix=f".{self.id}.", suffix=".tmp")
        with os.fdopen(fd, "w") as out:
            out.write(redact(self.model_dump_json(indent=1)))
        os.replace(tmp, target)
        return target

    @classmethod
    def load(cls, path: Path) -> Trajectory:
        return load_document(path, cls, what="trajectory", fmt="json")
