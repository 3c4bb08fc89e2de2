"""The one rule for what a test file is, for every layer that asks.

- `is_test_module`: a Python file a test runner collects: `test_*.py`, `*_test.py`, and
  Django's `tests.py` (`tests/<app>/tests.py`, `<app>/tests.py`).
- `is_test_file`: a file that belongs to the tests, in any language: a test module, a
  file under a `test/`, `tests/` or `testing/` directory, `conftest.py`, `test_*`, `*_test.*`.

TEST_MODULE_ERE is the same test-module rule as a pattern that Python's `re` and
`grep -E` read alike, for the sandboxes that filter `git ls-files` in a shell."""

from __future__ import annotations

import re
from pathlib import PurePosixPath

TEST_MODULE_ERE = r"(^|/)(test_[^/]*|[^/]*_test|tests)\.py$"
_TEST_MODULE = re.compile(TEST_MODULE_ERE)
_TEST_FILE = re.compile(
    r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_test\.\w+$|(^|/)(conftest|tests)\.py$"
)


def is_test_module(path: str) -> bool:
    return bool(_TEST_MODULE.search(path))


def is_test_file(path: str) -> bool:
    return bool(_TEST_FILE.search(path))


def module_under_test(path: str) -> str:
    """The module name a test module is named after: `test_foo.py`, `foo_test.py` -> foo;
    Django's `tests/foo/tests.py` -> foo (its app)."""
    p = PurePosixPath(path)
    if p.name == "tests.py":
        return p.parent.name
    return p.stem.removeprefix("test_").removesuffix("_test")
