"""The repository's own tests as regression checks, and the reproduction-test pool's
validation (fails on the base twice; flaky and passing tests set aside), on a real repo."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from envs.candidate import Candidate, ReproTest
from sandbox.local import LocalSandbox
from selection.matrix import ORIGINAL, build_matrix
from selection.pipeline import select_group
from selection.pool import changed_sources, group_by_task
from selection.regression import (
    regressions,
    related_tests,
    related_tests_in,
    run_regressions,
)
from selection.testpool import dedup_tests, validate_pool

CALC = "def add(a, b):\n    return a - b\n\n\ndef mul(a, b):\n    return a * b\n"


def _repo(root: Path) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "tests").mkdir()
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "calc.py").write_text(CALC)
    (root / "pkg" / "other.py").write_text("X = 1\n")
    (root / "tests" / "test_calc.py").write_text(
        "from pkg.calc import mul\n\n\ndef test_mul():\n    assert mul(2, 3) == 6\n\n\n"
        "def test_mul_zero():\n    assert mul(0, 3) == 0\n"
    )
    (root / "tests" / "test_other.py").write_text(
        "from pkg import other\n\ndef test_x():\n    assert other.X == 1\n"
    )
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "init"], check=True)
    return root


def _patch(add: str, mul: str = "a * b") -> str:
    return (
        "diff --git a/pkg/calc.py b/pkg/calc.py\n--- a/pkg/calc.py\n+++ b/pkg/calc.py\n"
        "@@ -1,6 +1,6 @@\n def add(a, b):\n-    return a - b\n"
        f"+    return {add}\n \n \n def mul(a, b):\n-    return a * b\n+    return {mul}\n"
    )


def _test(name: str, body: str) -> ReproTest:
    path = f"test_{name}.py"
    return ReproTest.make(
        path=path,
        content=f"from pkg.calc import add\n\n\n{body}",
        command=f"python -m pytest -q {path}",
        kind="pytest",
        origin=name,
    )


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _repo(tmp_path_factory.mktemp("r") / "repo")


def test_related_tests_by_name_and_import(repo: Path) -> None:
    files = {p: (repo / p).read_text() for p in ("tests/test_calc.py", "tests/test_other.py")}
    assert related_tests(["pkg/calc.py"], files) == ["tests/test_calc.py"]
    assert related_tests(["pkg/other.py"], files) == ["tests/test_other.py"]
    assert related_tests(["README.md"], files) == []
    with LocalSandbox(repo, warn=False) as box:
        assert related_tests_in(box, ["pkg/calc.py"]) == ["tests/test_calc.py"]


def test_related_tests_by_dotted_use_then_by_package() -> None:
    """requests' single test module imports `requests` and uses `requests.sessions.x`."""
    files = {
        "test_requests.py": "import requests\nfrom requests.adapters import HTTPAdapter\n\n"
        "def test_netrc():\n    requests.sessions.get_netrc_auth = None\n",
        "tests/test_misc.py": "import requests_mock\n",
    }
    assert related_tests(["requests/sessions.py"], files) == ["test_requests.py"]
    # nothing names requests/models.py: the tests importing its package stand in
    assert related_tests(["requests/models.py"], files) == ["test_requests.py"]
    assert related_tests(["other/models.py"], files) == []
    # a package that many test files import says nothing about one of its modules
    many = {f"testing/test_{i}.py": "from _pytest.main import Session\n" for i in range(6)}
    assert related_tests(["src/_pytest/python.py"], many) == []
    assert len(related_tests(["src/_pytest/python.py"], many, limit=24)) == 6
    # a direct hit anywhere wins over the package fallback
    files["tests/test_models.py"] = "def test_it():\n    pass\n"
    assert related_tests(["requests/models.py"], files) == ["tests/test_models.py"]


def test_a_broken_base_passing_test_counts_against_the_candidate(repo: Path) -> None:
    cands = [
        Candidate(id="good", task_id="t", patch=_patch("a + b")),
        Candidate(id="breaks-mul", task_id="t", patch=_patch("a + b", "a ** b")),
    ]
    assert changed_sources(cands) == ["pkg/calc.py"]
    matrix = asyncio.run(
        run_regressions(
            cands, ["tests/test_calc.py"], lambda: LocalSandbox(repo, warn=False), concurrency=2
        )
    )
    assert matrix.test_ids == ["tests.test_calc::test_mul", "tests.test_calc::test_mul_zero"]
    assert all(matrix.passed(ORIGINAL, t) for t in matrix.test_ids)
    assert regressions(matrix, "good") == 0
    assert regressions(matrix, "breaks-mul") == 1  # 0 ** 3 == 0 still passes


def test_pool_validation_quarantines_flaky_and_drops_duplicates(repo: Path, tmp_path: Path) -> None:
    counter = tmp_path / "runs"
    flaky = _test("flaky", "def test_it():\n    import pathlib\n"
                  f"    p = pathlib.Path({str(counter)!r})\n"
                  "    n = int(p.read_text()) if p.exists() else 0\n    p.write_text(str(n + 1))\n"
                  "    assert n % 2 == 0\n")  # fmt: skip
    good = _test("good", "def test_it():\n    assert add(1, 2) == 3\n")
    same = _test(
        "same", "def test_it():\n    # the same test, reformatted\n    assert add(1,2)==3\n"
    )
    passing = _test("passing", "def test_it():\n    assert add(0, 0) == 0\n")
    unique, dropped = dedup_tests([good, same, passing])
    assert unique == [good, passing] and dropped == {same.id: good.id}
    pool = asyncio.run(
        validate_pool([flaky, good, same, passing], lambda: LocalSandbox(repo, warn=False))
    )
    assert [t.id for t in pool.valid] == [good.id]
    assert pool.flaky == [flaky.id] and pool.pass_on_original == [passing.id]


def test_select_group_uses_tests_and_regressions(repo: Path) -> None:
    cands = [
        Candidate(id="wrong", task_id="t", patch=_patch("a * b")),
        Candidate(id="breaks-mul", task_id="t", patch=_patch("a + b", "a ** b")),
        Candidate(id="good", task_id="t", patch=_patch("a + b")),
    ]
    start = lambda: LocalSandbox(repo, warn=False)  # noqa: E731
    tests = [_test("one", "def test_it():\n    assert add(1, 2) == 3\n"),
             _test("two", "def test_it():\n    assert add(2, 2) == 4\n")]  # fmt: skip
    repro = asyncio.run(build_matrix(cands, tests, start, concurrency=2))
    regress = asyncio.run(run_regressions(cands, ["tests/test_calc.py"], start, concurrency=2))
    sel = asyncio.run(select_group(group_by_task(cands)["t"], repro=repro, regress=regress))
    assert sel.chosen == "good", sel.rationale
    assert sel.signals["tests"] == {"wrong": 1, "breaks-mul": 2, "good": 2}
    assert "breaks 0 of 2 base-passing regression tests" in sel.rationale
