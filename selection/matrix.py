"""The execution-based verifier: every unique candidate patch against every test.

One sandbox per unique patch, and one command in it: unpack the test files and the patch
(a tar carried inside the command), apply the patch (git apply, else patch with fuzz, as
sandbox.git_ops.apply), run the pytest tests in ONE pytest process and print its JUnit report,
which tells the files apart and gives each test's own time. A row thus costs a container
start, one command and a removal; the next rows' containers start while earlier rows run,
and a finished row's container is removed after its slot is handed on. Tests run one
process each only when the batch times out or its report cannot be read. Results are keyed
by candidate id and test id."""

from __future__ import annotations

import asyncio
import base64
import io
import posixpath
import shlex
import tarfile
import time
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field

from envs.candidate import Candidate, ReproTest
from sandbox.errors import PatchApplyError, QuorumError
from sandbox.git_ops import GIT, fuzzy_patch_command
from sandbox.protocol import Sandbox
from selection.junit import file_outcomes, parse_report

ORIGINAL = "__original__"  # the unpatched repository, a row of its own: tests must fail there
JUNIT = ".quorum-junit.xml"
ARCHIVE = ".quorum-tests.tar.gz"
INLINE_ARCHIVE_LIMIT = 64 * 1024  # base64 bytes sent inside the command (argv is 128 KiB)
APPLY_TIMEOUT_S = 120
START_AHEAD = 2  # sandboxes alive per running row: the next rows start while tests run
_T = TypeVar("_T")


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
    progress: Callable[[int, int], None] | None = None,
) -> PassMatrix:
    """`concurrency` rows run their tests at once; the next rows' sandboxes start while they
    do (at most `concurrency` waiting), and a finished row's sandbox is removed after its
    slot is given to the next row. `progress(done, total)` hears the test runs as each
    row finishes (a row whose patch does not apply counts as run), for a progress bar."""
    tests = [placed(t) for t in tests]
    by_patch: dict[str, list[str]] = {ORIGINAL: [ORIGINAL]}  # identical patches run once
    patches = {ORIGINAL: ""}
    for cand in candidates:
        if cand.patch.strip():
            by_patch.setdefault(cand.patch_id, []).append(cand.id)
            patches.setdefault(cand.patch_id, cand.patch)
    gate = asyncio.Semaphore(concurrency)  # rows running their tests
    starting = asyncio.Semaphore(concurrency)  # sandboxes starting, in row order
    alive = asyncio.Semaphore(concurrency * START_AHEAD)  # started, running or waiting
    loop = asyncio.get_running_loop()
    total, done = len(by_patch) * len(tests), 0
    with ThreadPoolExecutor(concurrency * START_AHEAD + 1, thread_name_prefix="matrix") as pool:

        def call(fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
            return loop.run_in_executor(pool, fn, *args)

        async def one(patch_id: str) -> tuple[str, dict[str, Cell] | str]:
            nonlocal done
            async with alive:
                async with starting:
                    box = await call(start_sandbox)
                try:
                    async with gate:
                        row = await call(_run_row, box, patches[patch_id], tests, test_timeout_s)
                finally:
                    await call(box.close)
            if progress is not None:
                done += len(tests)
                progress(done, total)
            return patch_id, row

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
    box: Sandbox,
    patch: str,
    tests: Sequence[ReproTest],
    timeout: float,
) -> dict[str, Cell] | str:
    """A row's cells, or why its patch did not apply."""
    batch = _run_batch(box, patch, tests, timeout)
    if batch.patch_error is not None:
        return batch.patch_error
    if not batch.written:  # the command did not get far: the same steps, one call each
        if patch:
            try:
                box.apply_patch(patch)
            except PatchApplyError as exc:
                return str(exc)
        for test in tests:
            box.write_file(test.path, test.content)
    row = batch.cells
    for test in tests:
        if test.id not in row:
            row[test.id] = _run_one(box, test, timeout)
    return row


@dataclass
class _Batch:
    cells: dict[str, Cell] = field(default_factory=dict)
    written: bool = False  # the patch is applied and the test files are in place
    patch_error: str | None = None


def _run_batch(box: Sandbox, patch: str, tests: Sequence[ReproTest], timeout: float) -> _Batch:
    """One command: unpack the test files and the patch (a tar inside the command), apply
    the patch as sandbox.git_ops.apply does (git apply, else patch with fuzz), run the pytest
    tests in one pytest process, print its JUnit report."""
    if any(not _plain_relative(t.path) for t in tests):
        return _Batch()  # write_file checks where such a path really leads; tar would not
    token = uuid.uuid4().hex
    mark = {k: f"quorum-{token}-{k}" for k in ("written", "unapplied", "report")}
    patch_file = f".quorum-patch-{token}.diff"
    files = {t.path: t.content for t in tests}
    if patch:
        files[patch_file] = patch if patch.endswith("\n") else patch + "\n"
    archive = _archive(files)
    encoded = base64.b64encode(archive).decode()
    if len(encoded) <= INLINE_ARCHIVE_LIMIT:
        unpack = f"printf %s {encoded} | base64 -d | tar -xzf - --no-same-owner"
    else:  # too long for one command line: upload it first
        box.write_file(ARCHIVE, archive)
        unpack = f"tar -xzf {ARCHIVE} --no-same-owner && rm -f {ARCHIVE}"
    script = f"{unpack} || exit 3\n"
    budget = 0.0
    if patch:
        git_log, patch_log = f".quorum-git-{token}.log", f".quorum-fuzz-{token}.log"
        fuzzy = fuzzy_patch_command(patch_file)
        script += (
            f"if ! {GIT} apply --whitespace=nowarn --recount {patch_file} >{git_log} 2>&1 &&\n"
            f"   ! {{ {fuzzy}; }} >{patch_log} 2>&1; then\n"
            f'  echo {mark["unapplied"]}; echo "git apply: $(cat {git_log})"\n'
            f'  echo "patch: $(cat {patch_log})"; rm -f {patch_file} {git_log} {patch_log}\n'
            "  exit 4\nfi\n"
            f"rm -f {patch_file} {git_log} {patch_log}\n"
        )
        budget += APPLY_TIMEOUT_S
    script += f"echo {mark['written']}\n"
    pytest_tests = [t for t in tests if t.kind == "pytest"]
    if pytest_tests:
        paths = " ".join(shlex.quote(t.path) for t in pytest_tests)
        script += (
            f"rm -f {JUNIT}\n"
            "python -m pytest -q -p no:cacheprovider --continue-on-collection-errors "
            f"--junitxml={JUNIT} {paths} >/dev/null 2>&1\n"
            f"rc=$?\necho {mark['report']}\ncat {JUNIT} 2>/dev/null\nexit $rc\n"
        )
        budget += timeout * len(pytest_tests)
    result = box.exec(script, timeout=max(budget, 60))
    out = result.stdout
    if mark["unapplied"] in out:
        reason = out.partition(mark["unapplied"])[2].strip()
        return _Batch(patch_error=f"the patch does not apply:\n{reason}")
    if mark["written"] not in out:
        return _Batch()  # did not get that far (no tar?): the caller takes the long way
    if not pytest_tests or result.timed_out:
        return _Batch(written=True)  # the caller runs each test alone, with its own timeout
    try:
        junit = parse_report(out.partition(mark["report"])[2].strip())
    except ET.ParseError:
        try:  # the output was cut short: read the report itself
            junit = parse_report(box.read_file(JUNIT))
        except (QuorumError, ET.ParseError):
            return _Batch(written=True)
    outcomes = file_outcomes(junit)
    cells = {
        t.id: Cell(passed=ok, exit_code=result.exit_code, duration_s=seconds)
        for t in pytest_tests
        if t.path in outcomes
        for ok, seconds in [outcomes[t.path]]
    }
    return _Batch(cells=cells, written=True)


def _archive(files: dict[str, str]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz", compresslevel=6) as tar:
        for path, content in files.items():
            data = content.encode()
            info = tarfile.TarInfo(path)
            info.size, info.mode, info.mtime = len(data), 0o644, int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _plain_relative(path: str) -> bool:
    norm = posixpath.normpath(path)
    return not posixpath.isabs(norm) and norm != ".." and not norm.startswith("../")


def _run_one(box: Sandbox, test: ReproTest, timeout: float) -> Cell:
    result = box.exec(test.command, timeout=timeout)
    return Cell(
        passed=result.ok,
        exit_code=result.exit_code,
        timed_out=result.timed_out,
        duration_s=result.duration_s,
    )
