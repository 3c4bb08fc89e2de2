"""How a trajectory ends. Terminal states are a small exception family carrying their exit
record; the loop raises them and exactly one place (`run_trajectory`) catches them."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

ExitStatus = Literal[
    "submitted", "step_limit", "time_limit", "budget_exhausted", "format_errors", "crashed"
]


class ExitRecord(BaseModel):
    model_config = ConfigDict(extra="forbid")

    status: ExitStatus
    reason: str = ""
    step: int = 0


class TrajectoryExit(Exception):  # a control-flow signal, not an error
    status: ExitStatus = "crashed"

    def __init__(self, reason: str = "", *, step: int = 0) -> None:
        super().__init__(reason)
        self.record = ExitRecord(status=self.status, reason=reason, step=step)


class Submitted(TrajectoryExit):
    status = "submitted"


class StepLimit(TrajectoryExit):
    status = "step_limit"


class TimeLimit(TrajectoryExit):
    status = "time_limit"


class BudgetStop(TrajectoryExit):
    status = "budget_exhausted"


class FormatLimit(TrajectoryExit):
    status = "format_errors"
