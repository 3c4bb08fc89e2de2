"""Regression runs for suites that are not pytest: Django's tests/runtests.py and sympy's
bin/test, on small repositories laid out as theirs are, with stand-ins that print what the
real runners print (Django's: unittest at verbosity 2; sympy's: its reporter's verbose
lines), read by swebench's parsers. The real Django and sympy are not run here."""

from __future__ import annotations

import asyncio
import difflib
import subprocess
import textwrap
from pathlib import Path

import pytest

from envs.candidate import Candidate
from envs.specs import swebench_spec
from sandbox.local import LocalSandbox
from selection.matrix import ORIGINAL
from selection.regression import regressions, related_tests, related_tests_in, run_regressions
from selection.regression_runners import (
    DJANGO,
    PYTEST,
    SYMPY,
    detect_runner,
    runner_for_repo,
    sympy_outcomes,
)

# Django's tests/runtests.py, cut down to what the regression run uses: the checkout's
# package first on sys.path, labels as modules of tests/, unittest's runner at the verbosity
# asked, its few lines before the tests.
RUNTESTS = """\
#!/usr/bin/env python
import argparse
import os
import sys
import unittest

RUNTESTS_DIR = os.path.abspath(os.path.dirname(__file__))
sys.path[:0] = [RUNTESTS_DIR, os.path.dirname(RUNTESTS_DIR)]
parser = argparse.ArgumentParser()
parser.add_argument("modules", nargs="*")
parser.add_argument("-v", "--verbosity", type=int, default=1)
parser.add_argument("--settings")
parser.add_argument("--parallel", type=int, default=0)
args = parser.parse_args()
import django
print(f"Testing against Django installed in '{os.path.dirname(django.__file__)}' "
      f"with up to {args.parallel} processes", file=sys.stderr)
suite = unittest.defaultTestLoader.loadTestsFromNames(args.modules)
print(f"Found {suite.countTestCases()} test(s).", file=sys.stderr)
print("System check identified no issues (0 silenced).", file=sys.stderr)
result = unittest.TextTestRunner(verbosity=args.verbosity).run(suite)
sys.exit(not result.wasSuccessful())
"""

# sympy's bin/test with its PyTestReporter's verbose output (sympy/testing/runtests.py):
# `file[n] `, then `test_name ` and `ok`, `F`, `E` or `<reason> s` per test, the file's
# verdict right-aligned at width 80 (stdout is not a terminal), then the failures' headers.
BIN_TEST = """\
#!/usr/bin/env python
import os
import sys
import traceback

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, ROOT)
WIDTH = 80
pos = 0


def write(text, align="left"):
    global pos
    if align == "right":
        if pos + len(text) > WIDTH:
            write("\\n")
        text = " " * (WIDTH - pos - len(text)) + text
    sys.stdout.write(text)
    pos = len(text) - text.rfind("\\n") - 1 if "\\n" in text else pos + len(text)


def center(text, delim):
    text = f" {text} " if text else ""
    left = (WIDTH - len(text)) // 2
    write(delim * left + text + delim * (WIDTH - left - len(text)) + "\\n")


center("test process starts", "=")
write(f"executable:         {sys.executable}\\n\\n")
failed, errors, passed = [], [], 0
for path in [a for a in sys.argv[1:] if not a.startswith("-")]:
    glob = {"__file__": os.path.join(ROOT, path)}
    with open(os.path.join(ROOT, path)) as f:
        exec(compile(f.read(), glob["__file__"], "exec"), glob)
    tests = [v for k, v in glob.items() if k.startswith("test_") and callable(v)]
    write(f"{path}[{len(tests)}] ")
    bad = False
    for test in tests:
        write("\\n" + test.__name__ + " ")
        try:
            test()
            passed += 1
            write("ok")
        except AssertionError:
            failed.append((path, test.__name__, traceback.format_exc()))
            bad = True
            write("F")
        except Exception as exc:
            if type(exc).__name__ == "Skipped":
                write(f"{exc} s")
                continue
            errors.append((path, test.__name__, traceback.format_exc()))
            bad = True
            write("E")
    write(" ")
    write("[FAIL]" if bad else "[OK]", align="right")
    write("\\n\\n")
write("\\n")
for sep, found in ((":", errors), ("::", failed)):
    for path, name, tb in found:
        center("", "_")
        center(f"{path}{sep}{name}", "_")
        write(tb)
center(f"tests finished: {passed} passed, {len(failed)} failed, "
       f"{len(errors)} exceptions", "=")
if failed or errors:
    write("DO *NOT* COMMIT!\\n")
sys.exit(bool(failed or errors))
"""


def _commit(root: Path, files: dict[str, str], executable: tuple[str, ...] = ()) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(textwrap.dedent(text))
    for path in executable:
        (root / path).chmod(0o755)
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(root)]
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-qm", "base"], check=True)
    return root


OPS = "def add(a, b):\n    return a + b\n\n\ndef neg(a):\n    return -a\n"
PRICING = "def total(items):\n    return sum(items)\n\n\ndef discount(x):\n    return x - 1\n"


@pytest.fixture(scope="module")
def django_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Django's layout: the package in django/, one app's tests in tests/<app>/tests.py,
    importing the app's package (not the changed module) as Django's tests mostly do."""
    return _commit(tmp_path_factory.mktemp("dj") / "django", {
        "django/__init__.py": "",
        "django/shop/__init__.py": "from django.shop.pricing import discount, total\n",
        "django/shop/pricing.py": PRICING,
        "django/mail.py": "def send():\n    return 1\n",
        "tests/runtests.py": RUNTESTS,
        "tests/test_sqlite.py": "DATABASES = {}\n",
        "tests/shop/__init__.py": "",
        "tests/shop/tests.py": """\
            import unittest

            from django.shop import discount, total


            class PricingTests(unittest.TestCase):
                def test_total(self):
                    self.assertEqual(total([1, 2]), 3)

                def test_discount(self):
                    self.assertEqual(discount(10), 9)

                def test_empty(self):
                    \"\"\"Nothing costs nothing.\"\"\"
                    self.assertEqual(total([]), 0)

                @unittest.skip("needs a database")
                def test_saved(self):
                    self.fail("never runs")
            """,
        "tests/mail/__init__.py": "",
        "tests/mail/tests.py": """\
            import unittest

            from django.mail import send


            class MailTests(unittest.TestCase):
                def test_send(self):
                    self.assertEqual(send(), 1)
            """,
    }, executable=("tests/runtests.py",))  # fmt: skip


@pytest.fixture(scope="module")
def sympy_repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """sympy's layout: bin/test, tests in sympy/<pkg>/tests/test_*.py; two files share a
    test name, as sympy's often do."""
    return _commit(tmp_path_factory.mktemp("sy") / "sympy", {
        "bin/test": BIN_TEST,
        "sympy/__init__.py": "",
        "sympy/testing/__init__.py": "",
        "sympy/testing/pytest.py": """\
            class Skipped(Exception):
                pass


            def skip(reason):
                raise Skipped(reason)
            """,
        "sympy/calc/__init__.py": "",
        "sympy/calc/ops.py": OPS,
        "sympy/calc/tests/__init__.py": "",
        "sympy/calc/tests/test_ops.py": """\
            from sympy.calc.ops import add, neg
            from sympy.testing.pytest import skip


            def test_add():
                assert add(1, 2) == 3


            def test_needs_numpy():
                skip("numpy not installed")


            def test_neg():
                assert neg(2) == -2
            """,
        "sympy/calc/tests/test_more.py": """\
            from sympy.calc.ops import add


            def test_add():
                assert add(0, 0) == 0
            """,
    }, executable=("bin/test",))  # fmt: skip


def _diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(True), new.splitlines(True),
                                 f"a/{path}", f"b/{path}")  # fmt: skip
    return f"diff --git a/{path} b/{path}\n" + "".join(lines)


def _matrix(repo: Path, cands: list[Candidate], files: list[str]):
    start = lambda: LocalSandbox(repo, warn=False)  # noqa: E731
    return asyncio.run(run_regressions(cands, files, start, concurrency=2))


def test_the_runner_is_told_from_the_layout(django_repo: Path, sympy_repo: Path,
                                            tmp_path: Path) -> None:  # fmt: skip
    plain = _commit(tmp_path / "plain", {"pkg/m.py": "X = 1\n", "tests/test_m.py": ""})
    found = []
    for repo in (django_repo, sympy_repo, plain):
        with LocalSandbox(repo, warn=False) as box:
            found.append(detect_runner(box))
    assert found == [DJANGO, SYMPY, PYTEST]
    assert runner_for_repo("django/django") == DJANGO and runner_for_repo("psf/requests") is None


def test_the_commands_are_swebench_s() -> None:
    """The specs' own test command, the same for every version Quorum can build."""
    from swebench.harness.constants import MAP_REPO_VERSION_TO_SPECS

    for runner, repo in ((DJANGO, "django/django"), (SYMPY, "sympy/sympy")):
        specs = [swebench_spec(repo, v) for v in MAP_REPO_VERSION_TO_SPECS[repo]]
        assert {s.test_cmd for s in specs if s.supported} == {runner.command}
        assert runner_for_repo(repo) == runner


def test_django_labels_and_related_app_tests(django_repo: Path) -> None:
    files = ["tests/shop/tests.py", "tests/shop/sub/test_x.py", "django/shop/tests.py"]
    assert DJANGO.targets(files) == ["shop.tests", "shop.sub.test_x"]
    assert SYMPY.targets(files) == files
    # tests/<app>/tests.py for a change in django/<app>/... it does not import by name
    with LocalSandbox(django_repo, warn=False) as box:
        assert related_tests_in(box, ["django/shop/pricing.py"]) == ["tests/shop/tests.py"]
    texts = {"tests/dispatch/tests.py": "from django.dispatch import Signal\n",
             "tests/signals/tests.py": "from django.db.models import signals\n",
             "tests/django/tests.py": "import django\n"}  # fmt: skip
    assert related_tests(["django/dispatch/dispatcher.py"], texts) == ["tests/dispatch/tests.py"]


def test_same_app_tests_win_over_every_app_s_file_of_the_same_name() -> None:
    """django/contrib/auth/forms.py: every app has a test_forms.py; auth's own
    (tests/auth_tests/) ranks first, and others' count only where they import the module."""
    auth_forms = "from django.contrib.auth.forms import "
    texts = {
        "tests/auth_tests/test_forms.py": auth_forms + "UserCreationForm\n",
        "tests/admin_views/test_forms.py": "from django.contrib.admin.forms import X\n",
        "tests/model_forms/test_forms.py": "from django import forms\n",
        "tests/admin_views/tests.py": auth_forms + "AdminPasswordChangeForm\n",
        "tests/auth_tests/test_views.py": "from django.contrib.auth.views import LoginView\n",
    }
    assert related_tests(["django/contrib/auth/forms.py"], texts) == [
        "tests/auth_tests/test_forms.py", "tests/admin_views/tests.py"]
    # no file in the module's own package's directory: a name alone still relates
    del texts["tests/auth_tests/test_forms.py"]
    assert related_tests(["django/contrib/auth/forms.py"], texts) == [
        "tests/admin_views/test_forms.py", "tests/model_forms/test_forms.py",
        "tests/admin_views/tests.py"]
    # the same rule for a pytest layout with a directory per package
    flat = {"tests/io/test_utils.py": "", "tests/net/test_utils.py": "", "tests/test_utils.py": ""}
    assert related_tests(["pkg/net/utils.py"], flat) == ["tests/net/test_utils.py"]


def test_django_suite_counts_the_test_a_patch_breaks(django_repo: Path) -> None:
    cands = [
        Candidate(id="good", task_id="t", patch=_diff(
            "django/shop/pricing.py", PRICING, PRICING.replace("x - 1", "x - 1  # one off"))),
        Candidate(id="breaks", task_id="t", patch=_diff(
            "django/shop/pricing.py", PRICING, PRICING.replace("x - 1", "x - 2"))),
    ]  # fmt: skip
    matrix = _matrix(django_repo, cands, ["tests/shop/tests.py"])
    # unittest's own names: `test_x (shop.tests.PricingTests)` (3.11: `...PricingTests.test_x)`),
    # a docstring's first line where there is one; the skipped test is left out
    assert len(matrix.test_ids) == 3, matrix.test_ids
    assert "Nothing costs nothing." in matrix.test_ids
    assert not any("test_saved" in t for t in matrix.test_ids)
    broken = [t for t in matrix.test_ids if not matrix.passed("breaks", t)]
    assert len(broken) == 1 and broken[0].startswith("test_discount (shop.tests.PricingTests")
    assert all(matrix.passed(ORIGINAL, t) for t in matrix.test_ids)
    assert regressions(matrix, "good") == 0 and regressions(matrix, "breaks") == 1


def test_sympy_suite_counts_the_test_a_patch_breaks(sympy_repo: Path) -> None:
    cands = [
        Candidate(id="good", task_id="t", patch=_diff(
            "sympy/calc/ops.py", OPS, OPS.replace("a + b", "b + a"))),
        # breaks test_ops.py's test_add (not its file's last test) and test_neg (the last);
        # test_more.py's test_add, 0 + 0, still passes
        Candidate(id="breaks", task_id="t", patch=_diff(
            "sympy/calc/ops.py", OPS, OPS.replace("a + b", "a * b").replace("-a", "a"))),
    ]  # fmt: skip
    files = ["sympy/calc/tests/test_ops.py", "sympy/calc/tests/test_more.py"]
    with LocalSandbox(sympy_repo, warn=False) as box:
        assert related_tests_in(box, ["sympy/calc/ops.py"]) == files  # named after it first
    matrix = _matrix(sympy_repo, cands, files)
    assert matrix.test_ids == ["sympy/calc/tests/test_more.py::test_add",
                               "sympy/calc/tests/test_ops.py::test_add",
                               "sympy/calc/tests/test_ops.py::test_neg"]  # fmt: skip
    assert all(matrix.passed(ORIGINAL, t) for t in matrix.test_ids)
    assert not matrix.passed("breaks", "sympy/calc/tests/test_ops.py::test_add")
    assert matrix.passed("breaks", "sympy/calc/tests/test_more.py::test_add")
    assert regressions(matrix, "good") == 0 and regressions(matrix, "breaks") == 2


# Recorded from sympy 1.14's own reporter (sympy.testing.runtests.PyTestReporter, verbose,
# no colours, tests shuffled as it does by default) on three small test files: the last test
# of each file shares its line with the file's verdict; a test that prints has its `ok` on a
# line of its own. (Trailing spaces trimmed.)
REAL_SYMPY_LOG = """\
============================= test process starts ==============================
executable:         /work/main/.venv/bin/python  (3.11.7-final-0) [CPython]
architecture:       64-bit
cache:              yes
ground types:       python
numpy:              2.4.6
random seed:        0
hash randomization: off

pkg/tests/test_c.py[2]
test_first ok
test_last_passes ok                                                         [OK]

pkg/tests/test_a.py[6]
test_last_fails F
test_ok ok
test_fail F
test_skip no numpy here s
test_err E
test_xf f                                                                 [FAIL]

pkg/tests/test_b.py[2]
test_printing hello from test
ok
test_ok2 ok                                                                 [OK]


________________________________________________________________________________
_________________________ pkg/tests/test_a.py:test_err _________________________
Traceback (most recent call last):
  File "/tmp/symx/pkg/tests/test_a.py", line 7, in test_err
    raise ValueError("boom")
ValueError: boom

________________________________________________________________________________
_____________________ pkg/tests/test_a.py::test_last_fails _____________________
Traceback (most recent call last):
  File "/tmp/symx/pkg/tests/test_a.py", line 14, in test_last_fails
    assert 0
AssertionError
________________________________________________________________________________
________________________ pkg/tests/test_a.py::test_fail ________________________
Traceback (most recent call last):
  File "/tmp/symx/pkg/tests/test_a.py", line 5, in test_fail
    assert 1 == 2
           ^^^^^^
AssertionError

 tests finished: 5 passed, 2 failed, 1 skipped, 1 expected to fail,
1 exceptions, in 0.02 seconds
DO *NOT* COMMIT!
"""


def test_sympy_outcomes_of_its_real_reporter() -> None:
    from envs.log_parsers import swebench_parser

    # skipped (s) and expected failures (f) are left out; a test whose `ok` follows its
    # own output is not seen (swebench's parser does not see it either), so never counted
    assert sympy_outcomes(REAL_SYMPY_LOG) == {
        "pkg/tests/test_c.py::test_first": True,
        "pkg/tests/test_c.py::test_last_passes": True,
        "pkg/tests/test_a.py::test_last_fails": False,
        "pkg/tests/test_a.py::test_ok": True,
        "pkg/tests/test_a.py::test_fail": False,
        "pkg/tests/test_a.py::test_err": False,
        "pkg/tests/test_b.py::test_ok2": True,
    }
    # swebench's parser alone misses a file's last test, on the line of the verdict
    whole = swebench_parser("sympy/sympy")(REAL_SYMPY_LOG, None)
    assert "test_first" in whole and "test_last_passes" not in whole


def test_without_swebench_the_suites_run_under_pytest(
    django_repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Their output needs swebench's parsers: without the extra, a Django or sympy
    checkout is run under pytest instead of failing the selection."""
    import selection.regression_runners as runners

    monkeypatch.setattr(runners, "swebench_parser", lambda repo: None)
    with LocalSandbox(django_repo, warn=False) as box:
        assert detect_runner(box) == PYTEST
    assert runner_for_repo("django/django") is None
