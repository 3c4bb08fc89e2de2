"""The execution-based verifier: every unique candidate patch against every test.

One sandbox per unique patch; the pytest tests of a candidate run in ONE pytest process
(JUnit XML tells the files apart), falling back to one process per test only when the
batch times out or cannot be read. Results are keyed by candidate id and test id."""

from __future__ import annotations

import asyncio
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from envs.candidate import Candidate, ReproTest
from sandbox.errors import PatchApplyError, QuorumError
from sandbox.protocol import Sandbox

ORIGINAL = "__original__"  # the unpatched repository, a row of its own: tests must fail there
JUNIT = ".quorum-junit.xml"


class Cell(BaseModel):
    model_config = ConfigDict(extra="forbid")

    passed: bool
    exit_code: int = 0
    timed_out: bool = False
    duration_s: float = 0.0
    error: str = ""


class PassMatrix(BaseModel):
    model_config = ConfigDict(extra="forbid")

    candidate_ids: list[str]
    test_ids: list[str]
    cells: dict[str, dict[str, Cell]] = Field(description="candidate id -> test id -> cell")
    patch_errors: dict[str, str] = Field(default_factory=dict, description="did not apply")

    def passed(self, candidate_id: str, test_id: str) -> bool:
        cell = self.cells.get(candidate_id, {}).get(test_id)
        return bool(cell and cell.passed)

    def valid_tests(self) -> list[str]:
        """Tests that fail on the original code: only they can tell a fix apart."""
        return [t for t in self.test_ids if not self.passed(ORIGINAL, t)]

    def save(self, path: Path) -> None:
        path.write_text(self.model_dump_json(indent=1))


def placed(test: ReproTest) -> ReproTest:
    """The test under a path of its own, so every test of the pool fits in one workspace."""
    if test.kind != "pytest":
        return test
    path = f"test_quorum_{test.id}.py"
    return test.model_copy(update={"path": path, "command": test.command.replace(test.path, path)})


async def build_matrix(
    candidates: Sequence[Candidate],
    tests: Sequence[ReproTest],
    start_sandbox: Callable[[], Sandbox],
    *,
    concurrency: int = 4,
    test_timeout_s: float = 120,
) -> PassMatrix:
    tests = [placed(t) for t in tests]
    by_patch: dict[str, list[str]] = {}  # identical patches run once
    patches = {ORIGINAL: ""}
    for cand in candidates:
        if cand.patch.strip():
            by_patch.setdefault(cand.patch_id, []).append(cand.id)
            patches.setdefault(cand.patch_id, cand.patch)
    by_patch[ORIGINAL] = [ORIGINAL]
    gate = asyncio.Semaphore(concurrency)

    async def one(patch_id: str) -> tuple[str, dict[str, Cell] | str]:
        async with gate:
            return patch_id, await asyncio.to_thread(
                _run_row, patches[patch_id], tests, start_sandbox, test_timeout_s
            )

    rows = dict(await asyncio.gather(*(one(pid) for pid in by_patch)))
    cells: dict[str, dict[str, Cell]] = {}
    errors: dict[str, str] = {}
    for patch_id, ids in by_patch.items():
        for cid in ids:
            row = rows[patch_id]
            if isinstance(row, str):
                errors[cid] = row
                cells[cid] = {t.id: Cell(passed=False, error="patch did not apply") for t in tests}
            else:
                cells[cid] = row
    return PassMatrix(
        candidate_ids=[ORIGINAL, *(c.id for c in candidates if c.patch.strip())],
        test_ids=[t.id for t in tests],
        cells=cells,
        patch_errors=errors,
    )


def _run_row(
    patch: str,
    tests: Sequence[ReproTest],
    start_sandbox: Callable[[], Sandbox],
    timeout: float,
) -> dict[str, Cell] | str:
    with start_sandbox() as box:
        if patch:
            try:
                box.apply_patch(patch)
            except PatchApplyError as exc:
                return str(exc)
        for test in tests:
            box.write_file(test.path, test.content)
        pytest_tests = [t for t in tests if t.kind == "pytest"]
        row = _run_batch(box, pytest_tests, timeout) if pytest_tests else {}
        for test in tests:
            if test.id not in row:
                row[test.id] = _run_one(box, test, timeout)
        return row


def _run_batch(box: Sandbox, tests: Sequence[ReproTest], timeout: float) -> dict[str, Cell]:
    files = " ".join(t.path for t in tests)
    command = (
        "python -m pytest -q -p no:cacheprovider --continue-on-collection-errors "
        f"--junitxml={JUNIT} {files}"
    )
    result = box.exec(command, timeout=timeout * len(tests))
    if result.timed_out:
        return {}  # the caller reruns each test alone, with its own timeout
    try:
        report = ET.fromstring(box.read_file(JUNIT))
    except (QuorumError, ET.ParseError):
        return {}
    share = result.duration_s / max(len(tests), 1)
    outcomes = _file_outcomes(report)
    return {
        t.id: Cell(passed=outcomes[t.path], exit_code=result.exit_code, duration_s=share)
        for t in tests
        if t.path in outcomes
    }


def _file_outcomes(report: ET.Element) -> dict[str, bool]:
    """test file -> every test case in it passed (a file with none did not pass)."""
    seen: dict[str, bool] = {}
    for case in report.iter("testcase"):
        module = (case.get("classname") or case.get("name") or "").split(".")[0]
        if not module:
            continue
        failed = any(case.find(tag) is not None for tag in ("failure", "error", "skipped"))
        path = f"{module}.py"
        seen[path] = seen.get(path, True) and not failed
    return seen


def _run_one(box: Sandbox, test: ReproTest, timeout: float) -> Cell:
    result = box.exec(test.command, timeout=timeout)
    return Cell(
        passed=result.ok,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        duration_s=result.duration_s,
    )
