"""The matrix's one-command rows: the patch and the tests travel inside the command, the
JUnit report gives each test its own time, and the slower paths give the same answers."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

import selection.matrix as matrix_module
from envs.candidate import Candidate, ReproTest
from sandbox.local import LocalSandbox
from selection.matrix import ORIGINAL, PassMatrix, build_matrix
from tests.sandbox.conftest import make_repo

FIX = (
    "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
    "@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return a + b\n"
)
# The context line is wrong, so git apply refuses; patch's fuzz takes it.
FUZZY_FIX = FIX.replace(" def add(a, b):", " def add(x, y):")
STALE = FIX.replace("-    return a - b", "-    return a * b")


def _pytest(name: str, body: str) -> ReproTest:
    path = f"test_{name}.py"
    return ReproTest.make(
        path=path,
        content=f"import time\nfrom pkg.calc import add\n\ndef test_it():\n{body}",
        command=f"python -m pytest -q {path}",
        kind="pytest",
        origin=name,
    )


TESTS = [
    _pytest("slow", "    time.sleep(0.5)\n    assert add(1, 2) == 3\n"),
    _pytest("quick", "    assert add(2, 2) == 4\n"),
    ReproTest.make(
        path="checks/add.sh",
        content="python -c 'from pkg.calc import add; assert add(1, 1) == 2'\n",
        command="bash checks/add.sh",
        kind="script",
        origin="script",
    ),
]


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("batch") / "repo")


def _matrix(repo: Path, sandbox: type[LocalSandbox] = LocalSandbox) -> PassMatrix:
    candidates = [
        Candidate(id="fix", task_id="t", patch=FIX),
        Candidate(id="fuzzy", task_id="t", patch=FUZZY_FIX),
        Candidate(id="stale", task_id="t", patch=STALE),
    ]
    start = lambda: sandbox(repo, warn=False)  # noqa: E731
    return asyncio.run(build_matrix(candidates, TESTS, start, concurrency=2))


def _outcomes(matrix: PassMatrix) -> dict[str, list[bool]]:
    return {c: [matrix.passed(c, t) for t in matrix.test_ids] for c in matrix.candidate_ids}


def test_rows_cells_and_per_test_times(repo: Path) -> None:
    matrix = _matrix(repo)
    assert _outcomes(matrix) == {
        ORIGINAL: [False, False, False],
        "fix": [True, True, True],
        "fuzzy": [True, True, True],  # applied by the fallback, in the same command
        "stale": [False, False, False],
    }
    error = matrix.patch_errors["stale"]
    assert "does not apply" in error and "git apply:" in error and "patch:" in error
    slow, quick, script = matrix.test_ids
    for row in (ORIGINAL, "fix"):
        assert matrix.cells[row][slow].duration_s >= 0.5  # its own JUnit time
        assert matrix.cells[row][quick].duration_s < 0.4  # not a share of the batch
        assert matrix.cells[row][script].duration_s > 0  # run on its own


def test_an_archive_too_long_for_the_command_is_uploaded(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = _outcomes(_matrix(repo))
    monkeypatch.setattr(matrix_module, "INLINE_ARCHIVE_LIMIT", 0)
    assert _outcomes(_matrix(repo)) == inline


class TarlessSandbox(LocalSandbox):
    """A sandbox in which the uploaded test archive arrives unreadable."""

    def write_file(self, path: str, data: bytes | str) -> None:
        super().write_file(path, b"not a tar" if path == matrix_module.ARCHIVE else data)


def test_without_the_archive_each_step_takes_its_own_call(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    inline = _outcomes(_matrix(repo))
    monkeypatch.setattr(matrix_module, "INLINE_ARCHIVE_LIMIT", 0)
    matrix = _matrix(repo, TarlessSandbox)
    assert _outcomes(matrix) == inline  # apply_patch, write_file, one process per test
    assert "does not apply" in matrix.patch_errors["stale"]
