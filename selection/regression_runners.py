"""How to run a set of repository test files and read one outcome per test, for the three
suites SWE-bench's Python repositories use:

- pytest, read from its JUnit XML report (selection/junit.py);
- Django's `tests/runtests.py`, which takes module labels (`tests/<app>/tests.py` ->
  `<app>.tests`) and prints unittest's verbosity-2 lines;
- sympy's `bin/test`, which takes file paths and prints its own reporter's lines.

Django's and sympy's output is read by swebench's own parsers (envs/log_parsers.py), as
grading reads it. The test commands are swebench's specs' (the same for every version).

Outcomes are what `junit.node_outcomes` gives for pytest: test id -> passed, a skipped (or
expected-failure) test left out, never counted broken; a test missing from a run is the
caller's to count as failed."""

from __future__ import annotations

import re
import shlex
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import PurePosixPath
from types import SimpleNamespace
from typing import Literal

from envs.grading import django_label
from envs.log_parsers import swebench_parser
from sandbox.errors import QuorumError
from sandbox.protocol import Sandbox
from selection.junit import node_outcomes, parse_report

Kind = Literal["pytest", "django", "sympy"]
JUNIT = ".quorum-regress.xml"
LOG = ".quorum-regress.log"  # read as a file: the output limit of exec never cuts it short
PYTEST_CMD = "python -m pytest -q -p no:cacheprovider --continue-on-collection-errors"
DJANGO_CMD = "./tests/runtests.py --verbosity 2 --settings=test_sqlite --parallel 1"
SYMPY_CMD = "PYTHONWARNINGS='ignore::UserWarning,ignore::SyntaxWarning' bin/test -C --verbose"
REPO_FOR = {"django": "django/django", "sympy": "sympy/sympy"}  # swebench's parser keys
# The layout that tells each suite apart, as one shell test (run at the base commit).
DETECT = (
    "if [ -f tests/runtests.py ] && [ -d django ]; then echo django; "
    "elif [ -f bin/test ] && [ -d sympy ]; then echo sympy; else echo pytest; fi"
)
# sympy's file header (`sympy/core/tests/test_basic.py[22] `, `...[?]   Failed to import`)
# and the file verdict its reporter right-aligns on the last test's line.
_SYMPY_FILE = re.compile(r"^(\S+\.py)\[(\d+|\?)\]", re.MULTILINE)
_SYMPY_VERDICT = re.compile(r"[ \t]+\[(OK|FAIL)\][ \t]*$", re.MULTILINE)


@dataclass(frozen=True)
class Runner:
    kind: Kind
    command: str  # the targets are appended

    def targets(self, test_files: Sequence[str]) -> list[str]:
        """What the command takes for these files: Django module labels (files outside
        `tests/` dropped: runtests.py only finds its own), else the paths."""
        if self.kind != "django":
            return list(test_files)
        return [django_label(path) for path in test_files
                if (p := PurePosixPath(path)).parts[:1] == ("tests",) and p.suffix == ".py"
                and len(p.parts) > 2]  # fmt: skip

    def run(self, box: Sandbox, test_files: Sequence[str], timeout: float) -> dict[str, bool]:
        """Test id -> passed, for one run in `box`; {} when it timed out or left no report."""
        targets = self.targets(test_files)
        if not targets:
            return {}
        args = " ".join(shlex.quote(t) for t in targets)
        if self.kind == "pytest":
            result = box.exec(f"{self.command} --junitxml={JUNIT} {args}", timeout=timeout)
            if result.timed_out:
                return {}
            try:
                return node_outcomes(parse_report(box.read_file(JUNIT)))
            except (QuorumError, ET.ParseError):
                return {}
        result = box.exec(f"{self.command} {args} > {LOG} 2>&1", timeout=timeout)
        if result.timed_out:
            return {}
        try:
            log = box.read_file(LOG).decode(errors="replace")
        except QuorumError:
            return {}
        return django_outcomes(log) if self.kind == "django" else sympy_outcomes(log)


PYTEST = Runner("pytest", PYTEST_CMD)
DJANGO = Runner("django", DJANGO_CMD)
SYMPY = Runner("sympy", SYMPY_CMD)
BY_KIND = {r.kind: r for r in (PYTEST, DJANGO, SYMPY)}


def detect_runner(box: Sandbox) -> Runner:
    """From the repository layout: `tests/runtests.py` + `django/` is Django's suite,
    `bin/test` + `sympy/` is sympy's; anything else runs under pytest."""
    kind = box.exec(DETECT, timeout=60).stdout.strip()
    runner = BY_KIND.get(kind, PYTEST)  # type: ignore[call-overload]
    return runner if _readable(runner.kind) else PYTEST


def runner_for_repo(repo: str, test_cmd: str = "") -> Runner | None:
    """From a task's spec, where it is known: its repository (swebench's parser key) and
    test command; None for a repository whose suite is pytest or unknown."""
    for kind, name in REPO_FOR.items():
        if repo == name and _readable(kind):  # type: ignore[arg-type]
            return Runner(kind, test_cmd or BY_KIND[kind].command)  # type: ignore[arg-type]
    return None


def _readable(kind: Kind) -> bool:
    """Its output can be read here: pytest always, the others with swebench's parsers
    (without the extra, those suites are run under pytest, which reads most of them)."""
    return kind == "pytest" or swebench_parser(REPO_FOR[kind]) is not None


def _parse(kind: Kind, log: str) -> dict[str, str]:
    parser = swebench_parser(REPO_FOR[kind])
    if parser is None:
        raise QuorumError(f"reading {kind}'s test output needs the swebench package "
                          "(pip install 'quorum[swebench]')")  # fmt: skip
    return parser(log, SimpleNamespace(repo=REPO_FOR[kind], version="", instance_id=""))


def _verdicts(statuses: dict[str, str]) -> dict[str, bool]:
    """swebench statuses as outcomes: skipped and expected failures left out."""
    return {t: s == "PASSED" for t, s in statuses.items() if s in ("PASSED", "FAILED", "ERROR")}


def django_outcomes(log: str) -> dict[str, bool]:
    """`test_x (app.tests.Class) ... ok` lines (ids as swebench's parser names them)."""
    return _verdicts(_parse("django", log))


def sympy_outcomes(log: str) -> dict[str, bool]:
    """`path::test_x` -> passed. swebench's parser names a test by its function alone
    (`test_x ok`), which two files may share, so it reads each file's section of the log
    apart and the file path is put in front; the failure headers it also reads
    (`__ path.py:test_x __`, `path.py::test_x` since sympy 1.x) name their file. The
    `[OK]`/`[FAIL]` verdict sympy writes on the same line as each file's last test is
    taken off first: left there, that test's `ok` or `F` is never seen."""
    log = _SYMPY_VERDICT.sub("", log)
    heads = list(_SYMPY_FILE.finditer(log))
    out: dict[str, bool] = {}
    failed: set[str] = set()
    for i, head in enumerate(heads):
        end = heads[i + 1].start() if i + 1 < len(heads) else len(log)
        for test, passed in _verdicts(_parse("sympy", log[head.end() : end])).items():
            if ".py:" in test:  # a failure header, file included
                path, _, name = test.partition(".py:")
                failed.add(f"{path}.py::{name.lstrip(':')}")
            else:
                out[f"{head.group(1)}::{test}"] = passed
    return out | dict.fromkeys(failed, False)
