"""The pass matrix (selection/matrix.py) on a real small repository against a naive
baseline and the ideal, measured in the same run. Prints name=value lines.

    .venv/bin/python benchmarks/matrix_bench.py [--concurrency 4] [--rounds 1]

The repository is the bundled example `examples/calc` (a real bug: `2 ** 3 ** 2` groups
from the left), in Docker sandboxes from its snapshot. 8 candidate patches (two correct
fixes, one that breaks left-grouping, one that breaks unary minus, one that fixes values
but not the tree, a no-op, one with a syntax error, one that does not apply) against 8
pytest reproduction tests: four take 0.2-0.5 s of their own (fuzzing against Python's
arithmetic, long chains), one runs the CLI in subprocesses, three are instant; about 1.5 s
of CPU a row. The matrix has a row for the unpatched code too, so it is 9 x 8 = 72 cells,
and so is the baseline.

matrix_ratio_vs_naive: build_matrix's wall time over the naive way's, the same 72 cells at
the same parallelism: for each (candidate, test) a fresh container from the same snapshot,
apply the patch, write the test, run it with pytest, remove the container.
matrix_ratio_vs_ideal: build_matrix's wall time over the tests' own run time (each cell's
JUnit time, summed over the 72 cells) divided by the parallelism.
Both matrices must agree cell by cell (and every row must pass exactly the tests it should),
or the benchmark fails.

matrix_fixed_cost_s: the same matrix with every test body emptied: what the sandboxes, the
patches and one pytest process per row cost when the tests take no time. On a machine whose
cores are saturated (2 cores, 4 rows of CPU-bound tests) those costs add to the tests' time
instead of hiding behind it, so matrix_floor_vs_ideal = (ideal_s + matrix_fixed_cost_s) /
ideal_s estimates the lowest ratio to the ideal that this machine allows.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import tempfile
import textwrap
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from envs.candidate import Candidate, ReproTest
from envs.examples import materialize_example
from envs.gitcmd import git
from quorum.commands.demo import EXAMPLE_SETUP
from quorum.sandboxes import sandbox_factory
from sandbox.errors import PatchApplyError
from sandbox.protocol import Sandbox
from selection.matrix import ORIGINAL, PassMatrix, build_matrix, placed

TEST_TIMEOUT_S = 120

_POWER = 'BinaryOperator("**", 30, _power)'
_RIGHT_POWER = 'BinaryOperator("**", 30, _power, right_assoc=True)'
_NEXT_MIN = "next_min = op.precedence if op.right_assoc else op.precedence + 1"
_EVAL_BINOP = "            return BINARY[op].apply(_eval(left, scope), _eval(right, scope))"

# name -> edits (file, old text, new text) made on the base commit; the diff is the patch.
CANDIDATES: dict[str, list[tuple[str, str, str]]] = {
    "gold": [("calc/operators.py", _POWER, _RIGHT_POWER)],  # the reference fix
    "parser-fix": [  # also correct, in the parser instead of the table
        (
            "calc/parser.py",
            _NEXT_MIN,
            'next_min = op.precedence if op.right_assoc or op.symbol == "**" '
            "else op.precedence + 1",
        ),
    ],
    "all-right": [  # fixes ** and breaks every left-grouping operator
        ("calc/parser.py", _NEXT_MIN, "next_min = op.precedence"),
    ],
    "unary-broken": [  # fixes ** and makes -2 ** 2 == 4
        ("calc/operators.py", _POWER, _RIGHT_POWER),
        ("calc/operators.py", "UNARY_PRECEDENCE = 25", "UNARY_PRECEDENCE = 35"),
    ],
    "value-only": [  # values right, the tree still grouped from the left
        (
            "calc/evaluator.py",
            _EVAL_BINOP,
            '            if op == "**" and isinstance(left, BinOp) and left.op == "**":\n'
            '                regrouped = BinOp("**", left.left, BinOp("**", left.right, right))\n'
            "                return _eval(regrouped, scope)\n" + _EVAL_BINOP,
        ),
    ],
    "no-op": [("calc/operators.py", _POWER + ",", _POWER + ",  # a ** b")],
    "syntax-error": [("calc/operators.py", _POWER + ",", _RIGHT_POWER[:-1] + ",")],
    "stale": [("calc/operators.py", _POWER, _RIGHT_POWER)],  # made stale below
}

# name -> test body (after `from calc import evaluate, parse`). Outcomes never depend on
# time; the fuzzers check every case before asserting, so they take as long when failing.
TESTS: dict[str, str] = {
    "power_chain_value": """
        def test_power_chain_value():
            assert evaluate("2 ** 3 ** 2") == 512
    """,
    "power_chain_tree": """
        from calc.nodes import BinOp, Var

        def test_power_chain_tree():
            a, b, c = Var("a"), Var("b"), Var("c")
            assert parse("a ** b ** c") == BinOp("**", a, BinOp("**", b, c))
    """,
    "fuzz_power_chains": """
        import random

        def test_power_chains_match_python():
            rng = random.Random(1)
            wrong = []
            for _ in range(ROUNDS):
                src = " ** ".join(str(rng.randint(0, 3)) for _ in range(rng.randint(2, 3)))
                for _ in range(20):
                    if evaluate(src) != eval(src):
                        wrong.append(src)
            assert not wrong, wrong[:5]
    """.replace("ROUNDS", "600"),
    "fuzz_mixed": """
        import random

        def term(rng):
            return " ** ".join(str(rng.randint(0, 3)) for _ in range(rng.randint(1, 3)))

        def test_mixed_expressions_match_python():
            rng = random.Random(2)
            wrong = []
            for _ in range(ROUNDS):
                src = term(rng)
                for _ in range(rng.randint(1, 4)):
                    src += f" {rng.choice('+-*')} {term(rng)}"
                if rng.random() < 0.3:
                    src = "-" + src
                for _ in range(10):
                    if evaluate(src) != eval(src):
                        wrong.append(src)
            assert not wrong, wrong[:5]
    """.replace("ROUNDS", "600"),
    "left_chains": """
        import random

        def test_left_chains_still_group_from_the_left():
            rng = random.Random(3)
            wrong = []
            for _ in range(ROUNDS):
                parts = [str(rng.randint(1, 9)) for _ in range(rng.randint(3, 6))]
                src = f" {rng.choice(['-', '/', '//'])} ".join(parts)
                for _ in range(10):
                    if evaluate(src) != eval(src):
                        wrong.append(src)
            assert not wrong, wrong[:5]
    """.replace("ROUNDS", "1000"),
    "unary_minus": """
        def test_unary_minus_binds_looser_than_power():
            assert evaluate("-2 ** 2") == -4
            assert evaluate("(-2) ** 2") == 4
    """,
    "cli": """
        import subprocess
        import sys

        def calc(*args):
            return subprocess.run([sys.executable, "-m", "calc", *args],
                                  capture_output=True, text=True, check=True).stdout.strip()

        def test_cli_prints_right_grouped_powers():
            assert [calc("2 ** 3 ** 2"), calc("x ** 2 ** 2", "--var", "x=3")] == ["512", "81"]
    """,
    "long_chains": """
        def right_depth(node):
            depth = 0
            while getattr(node, "op", None) == "**":
                if getattr(node.left, "op", None) == "**":
                    return -1
                node, depth = node.right, depth + 1
            return depth

        def test_long_chains_nest_to_the_right():
            wrong = []
            for _ in range(ROUNDS):
                for n in range(2, 40):
                    if right_depth(parse(" ** ".join(["x"] * n))) != n - 1:
                        wrong.append(n)
            assert not wrong, wrong[:5]
    """.replace("ROUNDS", "50"),
}


def make_tests() -> list[ReproTest]:
    tests = []
    for name, body in TESTS.items():
        path = f"test_{name}.py"
        tests.append(ReproTest.make(
            path=path,
            content="from calc import evaluate, parse\n" + textwrap.dedent(body),
            command=f"python -m pytest -q -p no:cacheprovider {path}",
            kind="pytest",
            origin=name,
        ))  # fmt: skip
    return tests


def make_candidates(repo: Path, task_id: str) -> list[Candidate]:
    """Each candidate's edits made on the base commit, taken as `git diff`."""
    out = []
    for name, edits in CANDIDATES.items():
        for file, old, new in edits:
            path = repo / file
            text = path.read_text()
            if text.count(old) != 1:
                raise SystemExit(f"candidate {name}: {old!r} is not once in {file}")
            path.write_text(text.replace(old, new))
        patch = git("diff", cwd=repo)
        git("checkout", "--", ".", cwd=repo)
        if name == "stale":  # as if written against a version where ** bound at 40
            patch = patch.replace(
                '-        BinaryOperator("**", 30', '-        BinaryOperator("**", 40'
            )
        out.append(Candidate(id=name, task_id=task_id, patch=patch))
    return out


def run_matrix(
    candidates: list[Candidate],
    tests: list[ReproTest],
    start: Callable[[], Sandbox],
    concurrency: int,
) -> tuple[float, PassMatrix]:
    started = time.monotonic()
    matrix = asyncio.run(
        build_matrix(candidates, tests, start, concurrency=concurrency,
                     test_timeout_s=TEST_TIMEOUT_S)
    )  # fmt: skip
    return time.monotonic() - started, matrix


def run_naive(
    candidates: list[Candidate],
    tests: list[ReproTest],
    start: Callable[[], Sandbox],
    concurrency: int,
) -> tuple[float, dict[tuple[str, str], bool]]:
    """One container per (row, test), `concurrency` at once; wall time and outcomes."""
    rows = [(ORIGINAL, ""), *((c.id, c.patch) for c in candidates)]
    cells = [(row, patch, test) for row, patch in rows for test in map(placed, tests)]

    def one(cell: tuple[str, str, ReproTest]) -> tuple[tuple[str, str], bool]:
        row, patch, test = cell
        with start() as box:
            if patch:
                try:
                    box.apply_patch(patch)
                except PatchApplyError:
                    return (row, test.id), False
            box.write_file(test.path, test.content)
            return (row, test.id), box.exec(test.command, timeout=TEST_TIMEOUT_S).ok

    started = time.monotonic()
    with ThreadPoolExecutor(concurrency) as pool:
        done = dict(pool.map(one, cells))
    return time.monotonic() - started, done


def empty_tests(tests: list[ReproTest]) -> list[ReproTest]:
    """The same number of test files, each a test that does nothing."""
    return [
        ReproTest.make(path=t.path, content="def test_nothing():\n    pass\n",
                       command=t.command, kind="pytest", origin=t.origin)
        for t in tests
    ]  # fmt: skip


def check(matrix: PassMatrix, naive: dict[tuple[str, str], bool], tests: list[ReproTest]) -> None:
    """Both matrices agree cell by cell, and each row passes the tests it should."""
    cells = len(matrix.candidate_ids) * len(matrix.test_ids)
    disagree = [(row, test) for (row, test), ok in naive.items() if matrix.passed(row, test) != ok]
    if disagree or len(naive) != cells:
        raise SystemExit(f"matrix and naive baseline disagree on {disagree}")
    for row, names in EXPECTED.items():
        want = {t.id for t in tests if t.origin in names}
        got = {t for t in matrix.test_ids if matrix.passed(row, t)}
        if got != want:
            raise SystemExit(f"row {row}: passed {sorted(got)}, expected {sorted(want)}")


_FIXED = set(TESTS)
_NOT_PLAIN = {"power_chain_value", "power_chain_tree", "fuzz_power_chains", "fuzz_mixed",
              "cli", "long_chains"}  # fmt: skip
EXPECTED: dict[str, set[str]] = {  # which tests each row passes
    ORIGINAL: _FIXED - _NOT_PLAIN,
    "gold": _FIXED,
    "parser-fix": _FIXED,
    "all-right": _FIXED - {"left_chains", "fuzz_mixed"},
    "unary-broken": _FIXED - {"unary_minus", "fuzz_mixed"},
    "value-only": _FIXED - {"power_chain_tree", "long_chains"},
    "no-op": _FIXED - _NOT_PLAIN,
    "syntax-error": set(),
    "stale": set(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--rounds", type=int, default=1, help="rounds of all three; medians")
    args = parser.parse_args()
    p = args.concurrency

    with tempfile.TemporaryDirectory() as tmp:
        task = materialize_example("calc", Path(tmp) / "repo")  # its tests are about calc
        task = task.model_copy(update={"setup": EXAMPLE_SETUP})
        candidates = make_candidates(Path(task.repo), task.id)
        tests = make_tests()
        with sandbox_factory(task, "docker", run_id="matrix-bench") as start:
            with start() as box:  # warm the page cache: python, pytest, the repository
                box.exec("python -m pytest --version && python -c 'import calc'", timeout=120)
            walls: dict[str, list[float]] = {"matrix": [], "naive": [], "ideal": [], "fixed": []}
            for _ in range(args.rounds):
                wall, matrix = run_matrix(candidates, tests, start, p)
                walls["matrix"].append(wall)
                own = sum(c.duration_s for row in matrix.cells.values() for c in row.values())
                walls["ideal"].append(own / p)
                wall, naive = run_naive(candidates, tests, start, p)
                walls["naive"].append(wall)
                check(matrix, naive, tests)
                walls["fixed"].append(run_matrix(candidates, empty_tests(tests), start, p)[0])

    matrix_s, naive_s, ideal_s, fixed_s = (statistics.median(walls[k]) for k in walls)
    print(f"cells={len(matrix.candidate_ids)}x{len(matrix.test_ids)}")
    print(f"concurrency={p}")
    print(f"load_average={os.getloadavg()[0]:.1f}")
    print("matrix_agrees_with_naive=1")
    print(f"matrix_wall_s={matrix_s:.2f}")
    print(f"naive_wall_s={naive_s:.2f}")
    print(f"ideal_s={ideal_s:.2f}")
    print(f"matrix_fixed_cost_s={fixed_s:.2f}")
    print(f"matrix_ratio_vs_naive={matrix_s / naive_s:.3f}")
    print(f"matrix_ratio_vs_ideal={matrix_s / ideal_s:.3f}")
    print(f"matrix_floor_vs_ideal={(ideal_s + fixed_s) / ideal_s:.3f}")


if __name__ == "__main__":
    main()
