"""Logs to test statuses, and the harness's verdict rules."""

from __future__ import annotations

from envs.grading import judge, run_targets
from envs.instances import Instance
from envs.log_parsers import parse_log, parse_pytest
from envs.specs import local_spec, swebench_spec

LOG = """\
============ short test summary info ============
PASSED tests/test_a.py::test_ok
FAILED tests/test_a.py::test_bad - AssertionError: boom
SKIPPED [1] tests/test_a.py:9: no network
XFAIL tests/test_a.py::test_known
ERROR tests/test_b.py::test_setup
"""


def make(f2p: list[str], p2p: list[str], test_patch: str = "", repo: str = "/r") -> Instance:
    return Instance(instance_id="i", repo=repo, base_commit="a" * 40, problem_statement="p",
                    FAIL_TO_PASS=f2p, PASS_TO_PASS=p2p, test_patch=test_patch)


def test_pytest_summary_lines() -> None:
    status = parse_pytest(LOG)
    assert status["tests/test_a.py::test_ok"] == "PASSED"
    assert status["tests/test_a.py::test_bad"] == "FAILED"
    assert status["tests/test_a.py::test_known"] == "XFAIL"
    assert status["tests/test_b.py::test_setup"] == "ERROR"


def test_verdict_follows_the_harness() -> None:
    status = parse_pytest(LOG) | {"tests/test_a.py::test_skip": "SKIPPED"}
    f2p, p2p = judge(status, make(["tests/test_a.py::test_ok", "tests/test_a.py::test_known"],
                                  ["tests/test_a.py::test_skip", "tests/test_a.py::gone"]))
    assert f2p.failure == [] and len(f2p.success) == 2
    # a skipped test is neither; a test the log never mentions failed
    assert p2p.success == [] and p2p.failure == ["tests/test_a.py::gone"]


def test_targets_are_the_test_files_and_for_local_tasks_the_graded_ones() -> None:
    patch = ("diff --git a/tests/test_x.py b/tests/test_x.py\n"
             "diff --git a/tests/data.json b/tests/data.json\n")
    inst = make(["tests/test_x.py::t"], ["tests/test_y.py::u"], patch)
    assert run_targets(inst, local_spec(inst)) == ["tests/test_x.py", "tests/test_y.py"]
    official = make([], [], patch, repo="psf/requests")
    assert run_targets(official, swebench_spec("psf/requests", "2.3")) == ["tests/test_x.py"]


def test_the_repository_parser_is_swebench_s() -> None:
    spec = swebench_spec("psf/requests", "2.3")
    # requests' parser keeps only the last part of a path parameter, as the dataset's ids do
    status = parse_log(spec, "PASSED test_requests.py::test_x[/tmp/pytest-1/a/b.txt]\n")
    assert status == {"test_requests.py::test_x[/b.txt]": "PASSED"}
