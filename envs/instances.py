"""SWE-bench instances: load them from JSONL or JSON in the official fields, pick some.

Accepted as in the wild: FAIL_TO_PASS / PASS_TO_PASS in either case, as JSON-encoded strings
(the official dataset) or as real lists; `version` as a string or a number. A `repo` that is a
relative local path is resolved against the dataset file's folder."""

from __future__ import annotations

import builtins
import difflib
import json
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from envs.errors import DatasetError, InstanceNotFound
from envs.loader import Loaded, load_records
from envs.repos import is_local_path


class Instance(BaseModel):
    """One raw instance. `patch` is the gold fix: for grading and validation, never for agents."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    instance_id: str
    repo: str = Field(description="owner/name on GitHub, or a local repository path")
    base_commit: str
    problem_statement: str
    patch: str = ""
    test_patch: str = ""
    hints_text: str = ""
    version: str | None = None
    created_at: str | None = None
    environment_setup_commit: str | None = None
    fail_to_pass: list[str] = Field(default_factory=list, alias="FAIL_TO_PASS")
    pass_to_pass: list[str] = Field(default_factory=list, alias="PASS_TO_PASS")

    @model_validator(mode="before")
    @classmethod
    def _test_list_keys_in_any_case(cls, data: Any) -> Any:
        if isinstance(data, dict):
            data = dict(data)
            for key in ("FAIL_TO_PASS", "PASS_TO_PASS"):
                lower = key.lower()
                if lower in data and key not in data:
                    data[key] = data.pop(lower)
        return data

    @field_validator("fail_to_pass", "pass_to_pass", mode="before")
    @classmethod
    def _decode_json_list(cls, value: Any) -> Any:
        if isinstance(value, str):
            try:
                return json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"not a JSON list of test ids ({exc.msg})") from None
        return value

    @field_validator("version", mode="before")
    @classmethod
    def _version_as_text(cls, value: Any) -> Any:
        return str(value) if isinstance(value, int | float) else value

    def record(self) -> dict[str, Any]:
        """The official field names, the test lists as real lists."""
        return self.model_dump(by_alias=True)


def load_instances(path: Path | str) -> list[Instance]:
    """Every instance of the file; any invalid line is an error naming it."""
    return read_instances(path).records


def read_instances(path: Path | str, *, skip_invalid: bool = False) -> Loaded[Instance]:
    """The instances of a JSONL file, a JSON array or one JSON object (`envs.loader`), each
    validated, ids unique. `skip_invalid` leaves out invalid lines and lists them."""
    path = Path(path).expanduser()
    loaded = load_records(
        path, Instance, what="dataset", error=DatasetError, skip_invalid=skip_invalid,
        name_field="instance_id", unique=lambda inst: f"instance {inst.instance_id}",
    )  # fmt: skip
    if not loaded.records and not loaded.skipped:
        raise DatasetError("the dataset is empty", path=path)
    for inst in loaded.records:
        if is_local_path(inst.repo) and not Path(inst.repo).expanduser().is_absolute():
            inst.repo = str((path.parent / inst.repo).resolve())
    return loaded


def write_instances(instances: Iterable[Instance], path: Path | str) -> Path:
    path = Path(path)
    path.write_text("".join(json.dumps(i.record()) + "\n" for i in instances), encoding="utf-8")
    return path


def parse_slice(spec: str) -> builtins.slice:
    """`START:STOP[:STEP]` with any part empty, or `N` for the first N."""
    try:
        if ":" not in spec:
            return builtins.slice(0, int(spec))
        parts = [int(p) if p.strip() else None for p in spec.split(":")]
    except ValueError as exc:
        raise DatasetError(f"bad slice {spec!r}", hint="write START:STOP, e.g. 0:10") from exc
    if len(parts) > 3:
        raise DatasetError(f"bad slice {spec!r}", hint="write START:STOP, e.g. 0:10")
    return builtins.slice(*parts)


def select(instances: list[Instance], ids: Iterable[str] | None = None,
           slice: builtins.slice | str | None = None,  # shadows the builtin: the CLI's own word
           filter_regex: str | None = None) -> list[Instance]:
    """Keep dataset order. Ids first (unknown ones are an error), then the regex (searched in
    the instance id), then the slice."""
    chosen = instances
    if ids is not None:
        wanted = list(dict.fromkeys(ids))
        known = {i.instance_id for i in instances}
        missing = [i for i in wanted if i not in known]
        if missing:
            close = {m: difflib.get_close_matches(m, known, n=1) for m in missing}
            tips = [f"{m} (did you mean {c[0]}?)" if c else m for m, c in close.items()]
            raise InstanceNotFound(f"not in the dataset: {', '.join(tips)}")
        keep = set(wanted)
        chosen = [i for i in chosen if i.instance_id in keep]
    if filter_regex:
        try:
            pattern = re.compile(filter_regex)
        except re.error as exc:
            raise DatasetError(f"bad filter regex {filter_regex!r}: {exc}") from exc
        chosen = [i for i in chosen if pattern.search(i.instance_id)]
    if slice is not None:
        chosen = chosen[parse_slice(slice) if isinstance(slice, str) else slice]
    return chosen
