"""The reproduction-test pool: deduplicated, validated on the unpatched repository, with
flaky tests quarantined.

A test is kept when it fails on the original code in two separate runs (it shows the
issue, reliably). A test whose two runs disagree is flaky; one that passes is no evidence.
Duplicates (same normalised source and command) are run once."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from pydantic import BaseModel, ConfigDict, Field

from envs.candidate import ReproTest
from sandbox.protocol import Sandbox
from selection.matrix import ORIGINAL, build_matrix
from selection.normalize import normalise_python_source


class TestPool(BaseModel):
    model_config = ConfigDict(extra="forbid")
    __test__ = False

    valid: list[ReproTest] = Field(description="fail on the original code, twice")
    flaky: list[str] = Field(default_factory=list, description="ids whose two runs differ")
    pass_on_original: list[str] = Field(default_factory=list)
    duplicates: dict[str, str] = Field(default_factory=dict, description="dropped id -> kept")


def dedup_tests(tests: Sequence[ReproTest]) -> tuple[list[ReproTest], dict[str, str]]:
    kept: dict[str, ReproTest] = {}
    dropped: dict[str, str] = {}
    for test in tests:
        body = normalise_python_source(test.content) if test.kind == "pytest" else None
        # the command names the file; only its shape matters for equality
        key = f"{test.kind}\x00{body or test.content}\x00{test.command.replace(test.path, '@')}"
        if key in kept:
            dropped[test.id] = kept[key].id
        else:
            kept[key] = test
    return list(kept.values()), dropped


async def validate_pool(
    tests: Sequence[ReproTest],
    start_sandbox: Callable[[], Sandbox],
    *,
    runs: int = 2,
    test_timeout_s: float = 120,
) -> TestPool:
    unique, dropped = dedup_tests(tests)
    outcomes: list[dict[str, bool]] = []
    for _ in range(runs):
        matrix = await build_matrix([], unique, start_sandbox, test_timeout_s=test_timeout_s)
        outcomes.append({t: matrix.passed(ORIGINAL, t) for t in matrix.test_ids})
    valid, flaky, passing = [], [], []
    for test in unique:
        seen = {run[test.id] for run in outcomes}
        if len(seen) > 1:
            flaky.append(test.id)
        elif seen == {True}:
            passing.append(test.id)
        else:
            valid.append(test)
    return TestPool(valid=valid, flaky=flaky, pass_on_original=passing, duplicates=dropped)
