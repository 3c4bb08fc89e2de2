"""The outcome of selection: a chosen candidate or an abstention, with its evidence."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Selection(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task_id: str
    method: str
    chosen: str | None = Field(None, description="candidate id; None when abstaining")
    confidence: float = Field(0.0, ge=0.0, le=1.0)
    scores: dict[str, float] = Field(default_factory=dict, description="by candidate id")
    signals: dict[str, dict[str, float]] = Field(
        default_factory=dict, description="signal name -> candidate id -> raw value"
    )
    evidence: dict[str, Any] = Field(default_factory=dict)
    rationale: str = ""

    @property
    def abstained(self) -> bool:
        return self.chosen is None

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1))
