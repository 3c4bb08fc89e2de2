"""Knobs of the agentless pipeline."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

EditFormat = Literal["search_replace", "function", "file"]


class AgentlessConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    formats: list[EditFormat] = Field(
        default_factory=lambda: ["search_replace", "function", "file"],
        description="the repair fallback chain: the next format is tried when a reply in "
        "this one gives no usable edit",
    )
    max_files: int = Field(3, gt=0, description="files localisation may pick")
    imported_files: int = Field(
        2, ge=0, description="more files, imported by the picked ones, shown to repair"
    )
    map_chars: int = Field(12000, gt=200, description="repository map shown to the model")
    map_files: int = Field(300, gt=0, description="files read to build the map")
    whole_file_lines: int = Field(
        300, gt=0, description="picked files this short in all are shown whole (no narrowing)"
    )
    file_rewrite_lines: int = Field(250, gt=0, description="longest file rewritten whole")
    context_margin: int = Field(5, ge=0, description="lines around a narrowed definition")
    repro_attempts: int = Field(
        2, ge=0, description="tries at a test that fails on the original code (0: no test)"
    )
    max_output_tokens: int = Field(1024, gt=0)
    reply_chars: int = Field(6000, gt=100, description="how much of a reply a step records")
