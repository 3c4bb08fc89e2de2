"""The tools' one config."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ToolConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    bash_timeout_s: float = Field(
        120.0, gt=0, description="default and maximum timeout of one bash command; the model "
        "may ask for less, never more")
    max_observation_chars: int = Field(
        10_000, ge=200, description="longer observations keep their head and tail around a "
        "truncation marker")
    grep_max_hits: int = Field(50, ge=1, description="grep lines shown; the rest are counted")
    grep_max_line_chars: int = Field(200, ge=20, description="longer matching lines are cut")
    symbol_max_files: int = Field(
        200, ge=1, description="files parsed per symbol lookup (those that mention the name)")
    symbol_max_hits: int = Field(50, ge=1, description="definitions shown per symbol lookup")
    parse_max_bytes: int = Field(
        1_000_000, ge=1, description="larger files are not parsed (usually generated code)")
    search_timeout_s: float = Field(60.0, gt=0, description="timeout of one grep or file listing")
    max_file_bytes: int = Field(
        5_000_000, ge=1, description="view and edit refuse larger files (bash can page them)")
    snippet_context_lines: int = Field(
        4, ge=0, description="lines shown around an edit")
    submit_requires_changes: bool = Field(
        True, description="refuse `submit` while the working tree equals the base commit")
