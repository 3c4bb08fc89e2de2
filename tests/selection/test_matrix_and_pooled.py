from __future__ import annotations

from pathlib import Path

import pytest

from envs.candidate import Candidate, ReproTest
from sandbox.local import LocalSandbox
from selection.matrix import ORIGINAL, build_matrix
from selection.pooled import rank_by_pooled
from tests.sandbox.conftest import make_repo


def _patch(body: str) -> str:
    return (
        "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
        f"@@ -1,2 +1,2 @@\n def add(a, b):\n-    return a - b\n+    return {body}\n"
    )


def _test(name: str, assertion: str) -> ReproTest:
    path = f"test_{name}.py"
    return ReproTest.make(
        path=path,
        content=f"from pkg.calc import add\n\ndef test_it():\n    assert {assertion}\n",
        command=f"python -m pytest -q {path}",
        kind="pytest",
        origin=name,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("m") / "repo")


@pytest.fixture(scope="module")
def outcome(repo: Path):
    import asyncio

    good, wrong = _patch("a + b"), _patch("a * b")
    candidates = [
        Candidate(id="good", task_id="t", patch=good),
        Candidate(id="wrong", task_id="t", patch=wrong),
        Candidate(id="good-again", task_id="t", patch=good, cost_usd=0.5),
        Candidate(id="stale", task_id="t", patch=_patch("a + b").replace("a - b", "a / b")),
        Candidate(id="empty", task_id="t", patch=""),
    ]
    tests = [
        _test("one_two", "add(1, 2) == 3"),
        _test("two_two", "add(2, 2) == 4"),
        _test("zeros", "add(0, 0) == 0"),  # passes on the original: no evidence
        _test("broken", "add(1, 2) == 3 +"),  # a syntax error: a collection error
    ]
    matrix = asyncio.run(
        build_matrix(candidates, tests, lambda: LocalSandbox(repo, warn=False), concurrency=2)
    )
    return candidates, tests, matrix


def test_matrix_rows_are_keyed_by_candidate_and_test(outcome) -> None:
    _, tests, matrix = outcome
    one, two, zeros, broken = (t.id for t in tests)
    assert matrix.candidate_ids == [ORIGINAL, "good", "wrong", "good-again", "stale"]
    assert matrix.passed("good", one) and matrix.passed("good", two)
    assert not matrix.passed("wrong", one) and matrix.passed("wrong", two)
    assert matrix.cells["good-again"] == matrix.cells["good"]  # same patch, same row
    assert matrix.passed(ORIGINAL, zeros) and not matrix.passed(ORIGINAL, one)
    assert not any(matrix.passed(c, broken) for c in matrix.candidate_ids)
    assert set(matrix.valid_tests()) == {one, two, broken}
    assert "stale" in matrix.patch_errors and "does not apply" in matrix.patch_errors["stale"]


def test_ranking_prefers_most_tests_then_cost_then_id(outcome) -> None:
    candidates, _, matrix = outcome
    ranked = rank_by_pooled(candidates, matrix)
    assert [c.id for c in ranked] == ["good", "good-again", "wrong", "stale"]  # good is cheaper
    assert {c.id: c.scores["pooled_tests_passed"] for c in ranked} == {
        "good": 2,
        "good-again": 2,
        "wrong": 1,
        "stale": 0,
    }
    assert "empty" not in {c.id for c in ranked}  # no patch, nothing to rank
