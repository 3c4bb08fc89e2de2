"""SWE-bench predictions (`instance_id`, `model_patch`, `model_name_or_path`): the format
`quorum bench` writes, `quorum eval` grades and `quorum select` pools, read in one place.

A predictions file is JSON lines, a JSON array, one prediction object, or an object keyed
by instance id (`envs.loader`). Every line is validated; an instance id may appear once."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from envs.errors import LoadError
from envs.loader import Loaded, load_records


class Prediction(BaseModel):
    """One system's patch for one instance. Other fields (some harnesses add their own)
    are kept as they are."""

    model_config = ConfigDict(extra="allow")

    instance_id: str = Field(min_length=1)
    model_patch: str = Field("", description="a unified diff; null or absent is no patch")
    model_name_or_path: str | None = None

    @field_validator("model_patch", mode="before")
    @classmethod
    def _null_is_empty(cls, value: Any) -> Any:
        return "" if value is None else value


def read_predictions(
    path: Path | str, *, skip_invalid: bool = False, error: type[LoadError] = LoadError
) -> Loaded[Prediction]:
    return load_records(
        path, Prediction, what="predictions file", error=error, skip_invalid=skip_invalid,
        name_field="instance_id", keyed_by="instance_id", unique=lambda p: p.instance_id,
    )  # fmt: skip


def unknown_ids(predictions: Iterable[str], known: Iterable[str]) -> list[str]:
    """Prediction instance ids that the dataset does not hold, sorted."""
    have = set(known)
    return sorted({i for i in predictions if i not in have})
