"""The one test-file rule (envs.testfiles), as patch keys, the repo map and the regression
search use it, Django's `tests/<app>/tests.py` layout included."""

from __future__ import annotations

import subprocess

from agent.agentless.repomap import is_test_path
from envs.testfiles import TEST_MODULE_ERE, is_test_file, is_test_module, module_under_test
from selection.regression import related_tests


def test_test_modules_and_test_files() -> None:
    modules = ["tests/test_m.py", "pkg/m_test.py", "tests/queries/tests.py", "app/tests.py"]
    assert all(is_test_module(p) and is_test_file(p) for p in modules)
    not_modules = ["tests/queries/models.py", "conftest.py", "pkg/m.py", "pkg/contests.py"]
    assert [is_test_module(p) for p in not_modules] == [False] * 4
    assert [is_test_file(p) for p in not_modules] == [True, True, False, False]
    assert is_test_file("web/button_test.js") and not is_test_file("latest/m.py")
    assert is_test_path("tests/queries/tests.py")  # the agent's repo map asks the same rule


def test_the_shell_pattern_is_the_same_rule() -> None:
    paths = ["tests/test_m.py", "pkg/m_test.py", "tests/queries/tests.py", "pkg/m.py",
             "tests/queries/models.py", "pkg/contests.py"]  # fmt: skip
    grep = subprocess.run(["grep", "-E", TEST_MODULE_ERE], input="\n".join(paths) + "\n",
                          capture_output=True, text=True).stdout.split()  # fmt: skip
    assert grep == [p for p in paths if is_test_module(p)]


def test_django_app_tests_are_found_for_a_changed_module() -> None:
    assert module_under_test("tests/queries/tests.py") == "queries"
    assert module_under_test("tests/test_query.py") == "query"
    files = {
        "tests/queries/tests.py": "from django.test import TestCase\n",
        "tests/queries/models.py": "from django.db import models\n",
        "tests/basic/tests.py": "from django.test import TestCase\n",
    }
    assert related_tests(["django/db/models/queries.py"], files) == ["tests/queries/tests.py"]
