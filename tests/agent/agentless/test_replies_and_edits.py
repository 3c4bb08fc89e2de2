"""Reading small-model replies and applying their edits, without a model."""

from __future__ import annotations

import pytest

from agent.agentless.edits import (
    EditError,
    check_file,
    replace_definitions,
    rewrite_file,
    search_replace,
)
from agent.agentless.replies import code_blocks, listed_paths, main_code, search_replace_blocks

SOURCE = """class Basket:
    def __init__(self, items=[]):
        self.items = items

    def count(self):
        return len(self.items)


def total(basket):
    return basket.count()
"""


def test_fences_are_stripped_even_when_unclosed() -> None:
    assert code_blocks("Here:\n```python\nx = 1\n```\nbye") == ["x = 1\n"]
    assert main_code("```python\ndef f():\n    return 1\n") == "def f():\n    return 1\n"
    assert main_code("def f():\n    return 1") == "def f():\n    return 1\n"


def test_search_replace_blocks_with_their_paths() -> None:
    reply = (
        "Fix:\n### pkg/calc.py\n```python\n<<<<<<< SEARCH\n    return a - b\n=======\n"
        "    return a + b\n>>>>>>> REPLACE\n```\nFile: other.py\n<<<<<<< SEARCH\nx\n=======\n"
        "y\n>>>>>>> REPLACE\n<<<<<<< SEARCH\nz\n=======\nw\n>>>>>>> REPLACE"
    )
    blocks = search_replace_blocks(reply)
    assert [(b.path, b.search, b.replace) for b in blocks] == [
        ("pkg/calc.py", "    return a - b\n", "    return a + b\n"),
        ("other.py", "x\n", "y\n"),
        (None, "z\n", "w\n"),
    ]


def test_listed_paths_in_order() -> None:
    assert listed_paths("1. `pkg/calc.py`\n2. ./pkg/io.py\npkg/calc.py") == [
        "pkg/calc.py",
        "pkg/io.py",
    ]


def test_search_replace_exact_then_whitespace_tolerant() -> None:
    assert "items=None" in search_replace(SOURCE, "items=[]", "items=None")
    # the model lost the indentation: matched anyway, and the replacement re-indented
    fixed = search_replace(
        SOURCE, "def count(self):\nreturn len(self.items)", "def count(self):\n    return 0"
    )
    assert "    def count(self):\n        return 0\n" in fixed
    with pytest.raises(EditError, match="not found"):
        search_replace(SOURCE, "return nothing", "x")
    with pytest.raises(EditError, match="more than once"):
        search_replace(SOURCE, "self", "me")
    with pytest.raises(EditError, match="empty"):
        search_replace(SOURCE, "  \n", "x")


def test_replace_definitions_puts_a_method_back_in_its_class() -> None:
    code = "def count(self):\n    return sum(1 for _ in self.items)\n"
    fixed = replace_definitions("basket.py", SOURCE, code)
    assert "    def count(self):\n        return sum(1 for _ in self.items)\n" in fixed
    assert "def total(basket)" in fixed
    with pytest.raises(EditError, match="exists"):
        replace_definitions("basket.py", SOURCE, "def other():\n    pass\n")
    with pytest.raises(EditError, match="no function"):
        replace_definitions("basket.py", SOURCE, "x = 1\n")


def test_rewrite_file_refuses_a_file_that_drops_definitions() -> None:
    with pytest.raises(EditError, match="drops total"):
        rewrite_file("basket.py", SOURCE, SOURCE.split("\n\ndef total")[0])
    assert rewrite_file("basket.py", SOURCE, SOURCE.replace("[]", "None").rstrip()).endswith("\n")


def test_check_file_drops_identical_and_unparsable_edits() -> None:
    with pytest.raises(EditError, match="identical"):
        check_file("basket.py", SOURCE, SOURCE.replace("\n", "   \n") + "\n\n")
    with pytest.raises(EditError, match="does not parse"):
        check_file("basket.py", SOURCE, SOURCE.replace("def total(basket):", "def total(basket"))
    check_file("basket.py", SOURCE, SOURCE.replace("[]", "None"))


def test_check_file_drops_comment_only_and_definition_dropping_edits() -> None:
    commented = SOURCE.replace("        return len(self.items)", "        # the count\n"
                               "        return len(  self.items )")  # fmt: skip
    with pytest.raises(EditError, match="only comments, docstrings or formatting"):
        check_file("basket.py", SOURCE, commented)
    documented = SOURCE.replace("def total(basket):\n", 'def total(basket):\n    """Sum."""\n')
    with pytest.raises(EditError, match="docstrings"):
        check_file("basket.py", SOURCE, documented)
    without_count = SOURCE.replace("    def count(self):\n        return len(self.items)\n", "")
    with pytest.raises(EditError, match=r"drops Basket\.count"):
        check_file("basket.py", SOURCE, without_count)
    # A real change next to a comment still counts.
    check_file("basket.py", SOURCE, commented.replace("len(  self.items )", "len(self.items) + 0"))
