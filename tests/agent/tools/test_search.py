"""`search`: grep with bounded hits, and tree-sitter outline and symbol lookup through the
sandbox."""

from __future__ import annotations

import pytest

from agent.tools import ToolConfig, ToolError
from tests.agent.tools.conftest import Call, caller


# -- grep -------------------------------------------------------------------------------------
def test_grep_lists_hits_with_a_count(call: Call) -> None:
    assert call("search", command="grep", pattern=r"return a [-*]") == (
        "2 matches in 1 files:\npkg/calc.py:2:    return a - b\npkg/calc.py:6:    return a * b")


def test_grep_is_a_regex_over_the_whole_repository(call: Call) -> None:
    out = call("search", command="grep", pattern=r"^(export )?(class|interface) \w+")
    assert out.splitlines()[0] == "5 matches in 3 files:"
    assert "src/cart.js:2:export class Cart {" in out


def test_grep_searches_an_invalid_regex_as_text(call: Call) -> None:
    out = call("search", command="grep", pattern="mul(a")
    assert out == ("(not a valid regular expression; searched as plain text)\n"
                   "1 matches in 1 files:\npkg/calc.py:5:def mul(a, b):")


def test_grep_ignore_case_and_path(call: Call) -> None:
    assert call("search", command="grep", pattern="INVENTORY", path="src") == (
        "No matches for 'INVENTORY' in src.")
    out = call("search", command="grep", pattern="INVENTORY", path="src", ignore_case=True)
    assert out.startswith("4 matches in 1 files:\nsrc/inventory.py:1:")
    out = call("search", command="grep", pattern="def", path="pkg/calc.py")
    assert out.splitlines()[0] == "2 matches in 1 files:"


def test_grep_finds_untracked_files_but_not_git_internals(call: Call) -> None:
    call("edit", command="create", path="notes/new.txt", file_text="needle here\n")
    assert call("search", command="grep", pattern="needle") == (
        "1 matches in 1 files:\nnotes/new.txt:1:needle here")
    assert call("search", command="grep", pattern="refs/heads") == "No matches for 'refs/heads'."


def test_grep_bounds_the_hits_and_counts_the_rest(sandbox) -> None:
    call = caller(sandbox, ToolConfig(grep_max_hits=3, grep_max_line_chars=30))
    call("bash", command="seq 1 100 > n.txt && printf 'x%.0s' $(seq 1 80) > long.txt")
    out = call("search", command="grep", pattern="^[0-9]+$", path="n.txt")
    assert out == ("100 matches in 1 files:\nn.txt:1:1\nn.txt:2:2\nn.txt:3:3\n"
                   "[... and 97 more matches: narrow the pattern or `path`]")
    assert call("search", command="grep", pattern="xxx", path="long.txt").endswith(
        "long.txt:1:" + "x" * 16 + "...")


def test_grep_without_git_falls_back_to_grep(fresh_sandbox) -> None:
    call = caller(fresh_sandbox)
    call("bash", command="rm -rf .git")
    assert call("search", command="grep", pattern="return a -") == (
        "1 matches in 1 files:\npkg/calc.py:2:    return a - b")
    assert call("search", command="symbol", name="mul").startswith(
        "1 definition of 'mul':\npkg/calc.py:5-6  function mul")


@pytest.mark.parametrize(("args", "message"), [
    ({}, "`search` needs the argument `pattern`"),
    ({"pattern": ""}, "argument `pattern` of `search` must not be empty"),
    ({"pattern": "x", "path": "nope"}, "nope does not exist"),
    ({"pattern": "x", "path": "/etc"}, "outside the repository"),
])
def test_grep_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("search", command="grep", **args)


def test_unknown_command(call: Call) -> None:
    with pytest.raises(ToolError, match="must be one of grep, outline, symbol; got 'find'"):
        call("search", command="find", pattern="x")


# -- outline ----------------------------------------------------------------------------------
def test_outline_of_a_python_file(call: Call) -> None:
    assert call("search", command="outline", path="src/inventory.py").splitlines() == [
        "src/inventory.py: 8 definitions (line range, first line):",
        "7-12   class Item:",
        "11-12    def restock(self, amount: int) -> None:",
        "15-27  class Inventory:",
        "16-17    def __init__(self) -> None:",
        "19-20    def add(self, item: Item) -> None:",
        "23-27    def total(self) -> int:",
        "24-25      def count(i: Item) -> int:",
        "30-31  def load_inventory(path: str) -> Inventory:",
    ]


@pytest.mark.parametrize(("path", "line"), [
    ("src/cart.js", "7-9      addLine(sku, qty) {"),
    ("src/shapes.ts", "21-23    area(): number {"),
    ("src/Button.tsx", "9-9  export const IconButton = (props: Props) =>"),
    ("src/store.go", "21-26  func (s *Store) Get(key string) (string, bool) {"),
    ("src/queue.rs", "22-28    pub fn push(&mut self, item: T)"),
    ("src/Account.java", "22-22      void onChange(long balance);"),
])
def test_outline_in_each_language(call: Call, path: str, line: str) -> None:
    assert line in call("search", command="outline", path=path)


def test_outline_of_a_file_without_definitions(call: Call) -> None:
    assert call("search", command="outline", path="pkg/__init__.py") == (
        "pkg/__init__.py: no classes or functions found.")


@pytest.mark.parametrize(("args", "message"), [
    ({"path": "README.md"}, r"outline does not know the language of README.md; it reads .*\.py"),
    ({"path": "src/nope.py"}, "src/nope.py does not exist"),
    ({"path": "src"}, "src is a directory"),
    ({}, "`search` needs the argument `path`"),
])
def test_outline_errors(call: Call, args: dict, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("search", command="outline", **args)


def test_outline_refuses_a_file_too_large_to_parse(sandbox) -> None:
    call = caller(sandbox, ToolConfig(parse_max_bytes=100))
    with pytest.raises(ToolError, match=r"too large to outline \(\d+ bytes\); use grep"):
        call("search", command="outline", path="src/queue.rs")


# -- symbol -----------------------------------------------------------------------------------
@pytest.mark.parametrize(("name", "expected"), [
    ("Inventory.add", "src/inventory.py:19-20  method Inventory.add: def add(self, item: Item)"),
    ("totalOf", "src/cart.js:20-21  function totalOf: const totalOf = (cart, prices) =>"),
    ("Circle.area", "src/shapes.ts:21-23  method Circle.area: area(): number {"),
    ("IconButton", "src/Button.tsx:9-9  function IconButton"),
    ("Store.Get", "src/store.go:21-26  method Store.Get: func (s *Store) Get"),
    ("Queue::push", "src/queue.rs:22-28  method Queue.push: pub fn push"),
    ("Account.deposit", "src/Account.java:17-19  method Account.deposit: public void deposit"),
])
def test_symbol_in_each_language(call: Call, name: str, expected: str) -> None:
    out = call("search", command="symbol", name=name)
    assert out.splitlines()[0] == f"1 definition of {name!r}:"
    assert out.splitlines()[1].startswith(expected)


def test_symbol_across_files_and_languages(call: Call) -> None:
    assert call("search", command="symbol", name="add").splitlines() == [
        "2 definitions of 'add':",
        "pkg/calc.py:1-2  function add: def add(a, b):",
        "src/inventory.py:19-20  method Inventory.add: def add(self, item: Item) -> None:"]
    out = call("search", command="symbol", name="area")
    assert out.splitlines()[0] == "3 definitions of 'area':"


def test_symbol_sees_new_files(call: Call) -> None:
    call("edit", command="create", path="lib/extra.go",
         file_text="package lib\n\nfunc NewStore() int {\n\treturn 1\n}\n")
    out = call("search", command="symbol", name="NewStore")
    assert out.splitlines()[1:] == [
        "lib/extra.go:3-5  function NewStore: func NewStore() int {",
        "src/store.go:17-19  function NewStore: func NewStore() *Store {"]


def test_symbol_not_found(call: Call) -> None:
    out = call("search", command="symbol", name="Inventory.restock")
    assert out.startswith("No definition of 'Inventory.restock' found in the 1 ")
    assert out.endswith("files that mention it. Try grep.")


def test_symbol_bounds_files_hits_and_sizes(sandbox) -> None:
    out = caller(sandbox, ToolConfig(symbol_max_files=1))("search", command="symbol", name="add")
    assert out.splitlines() == ["1 definition of 'add':",
                                "pkg/calc.py:1-2  function add: def add(a, b):",
                                "(2 more files mention it and were not parsed)"]
    out = caller(sandbox, ToolConfig(symbol_max_hits=1))("search", command="symbol", name="area")
    assert out.splitlines()[-1] == "[... and 2 more: qualify the name, e.g. Class.method]"
    out = caller(sandbox, ToolConfig(parse_max_bytes=300))("search", command="symbol",
                                                            name="area")
    assert out.endswith("(1 files too large to parse were skipped)")


@pytest.mark.parametrize(("name", "message"), [
    ("foo bar", "'foo bar' is not a symbol name"),
    ("a(b)", "is not a symbol name"),
    ("", "must not be empty"),
])
def test_symbol_errors(call: Call, name: str, message: str) -> None:
    with pytest.raises(ToolError, match=message):
        call("search", command="symbol", name=name)
