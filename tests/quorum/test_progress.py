"""Progress for long work: the pass matrix reports its test runs through a plain callback
(selection.matrix.build_matrix, real LocalSandbox rows), which `quorum solve`'s live view
draws as a bar on a terminal only; a pipe gets nothing extra."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

from rich.console import Console

from envs.candidate import Candidate, ReproTest
from quorum.live import SolveView
from sandbox.local import LocalSandbox
from selection.matrix import build_matrix
from tests.sandbox.conftest import make_repo


def _patch(body: str) -> str:
    return ("diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
            f"@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n"
            f"+    return {body}\n")  # fmt: skip


def _test(name: str, assertion: str) -> ReproTest:
    return ReproTest.make(path=f"test_{name}.py", kind="pytest", origin=name,
                          content=f"from pkg.calc import add\n\ndef test_it():\n"
                                  f"    assert {assertion}\n",
                          command=f"python -m pytest -q test_{name}.py")  # fmt: skip


def test_build_matrix_reports_each_rows_test_runs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    candidates = [Candidate(id="good", task_id="t", patch=_patch("a + b")),
                  Candidate(id="same", task_id="t", patch=_patch("a + b")),  # runs once
                  Candidate(id="bad", task_id="t", patch="not a diff\n")]  # fmt: skip
    tests = [_test("one_two", "add(1, 2) == 3"), _test("zeros", "add(0, 0) == 0")]
    heard: list[tuple[int, int]] = []
    matrix = asyncio.run(build_matrix(candidates, tests, lambda: LocalSandbox(repo, warn=False),
                                      concurrency=2, progress=lambda *a: heard.append(a)))
    # rows: the unpatched code, one per distinct patch (the one that does not apply too)
    assert heard == [(2, 6), (4, 6), (6, 6)]
    assert matrix.passed("good", tests[0].id) and "bad" in matrix.patch_errors


def _screen(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    return Console(file=out, force_terminal=terminal, width=100), out


def test_the_solve_view_draws_tests_run_under_its_table() -> None:
    for terminal in (True, False):
        console, out = _screen(terminal)
        with SolveView(console, ledger_cap_usd=None) as view:
            view.tests_run(5, 12)
        text = out.getvalue()
        assert ("tests run" in text and "5/12" in text) is terminal
