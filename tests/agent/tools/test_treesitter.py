"""Definitions found by the tree-sitter queries in a small realistic file per language."""

from __future__ import annotations

import pytest

from agent.tools.treesitter.languages import LANGUAGES, compiled, language_of
from agent.tools.treesitter.parse import definitions, syntax_error_line
from tests.agent.tools.conftest import SAMPLES

EXPECTED: dict[str, list[tuple[int, str, str]]] = {
    "inventory.py": [
        (7, "class", "Item"), (11, "method", "Item.restock"), (15, "class", "Inventory"),
        (16, "method", "Inventory.__init__"), (19, "method", "Inventory.add"),
        (23, "method", "Inventory.total"), (24, "function", "Inventory.total.count"),
        (30, "function", "load_inventory")],
    "cart.js": [
        (2, "class", "Cart"), (3, "method", "Cart.constructor"), (7, "method", "Cart.addLine"),
        (11, "method", "Cart.size"), (16, "function", "priceOf"), (20, "function", "totalOf")],
    "shapes.ts": [
        (1, "interface", "Shape"), (2, "method", "Shape.area"), (5, "type", "Point"),
        (7, "enum", "Color"), (12, "class", "Base"), (13, "method", "Base.area"),
        (16, "class", "Circle"), (17, "method", "Circle.constructor"),
        (21, "method", "Circle.area"), (26, "function", "describe"), (30, "function", "scale")],
    "Button.tsx": [(3, "type", "Props"), (5, "function", "Button"),
                   (9, "function", "IconButton")],
    "store.go": [
        (6, "struct", "Store"), (11, "interface", "Getter"), (15, "type", "Key"),
        (17, "function", "NewStore"), (21, "method", "Store.Get"), (28, "method", "Store.Len")],
    "queue.rs": [
        (4, "struct", "Queue"), (9, "enum", "PushError"), (13, "trait", "Drain"),
        (14, "method", "Drain.drain_all"), (17, "impl", "Queue"), (18, "method", "Queue.new"),
        (22, "method", "Queue.push"), (31, "impl", "Queue"), (32, "method", "Queue.drain_all"),
        (39, "function", "make_queue")],
    "Account.java": [
        (6, "class", "Account"), (9, "constructor", "Account.Account"),
        (13, "method", "Account.balance"), (17, "method", "Account.deposit"),
        (21, "interface", "Account.Listener"), (22, "method", "Account.Listener.onChange"),
        (25, "enum", "Account.Kind")],
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_definitions_per_language(name: str) -> None:
    found = definitions(name, (SAMPLES / name).read_bytes())
    assert found is not None
    assert [(d.start_line, d.kind, d.qualified) for d in found] == EXPECTED[name]


def test_every_language_has_a_sample_and_a_valid_query() -> None:
    covered = {language_of(name) for name in EXPECTED}
    assert covered == set(LANGUAGES)
    for key in LANGUAGES:
        compiled(key)  # a query that does not fit its grammar raises here


def test_end_lines_and_signatures() -> None:
    found = definitions("store.go", (SAMPLES / "store.go").read_bytes())
    assert found is not None
    get = next(d for d in found if d.name == "Get")
    assert (get.end_line, get.signature) == (26, "func (s *Store) Get(key string) (string, bool) {")
    assert get.depth == 0  # a Go method is not nested in its type, only named after it


def test_unknown_language() -> None:
    assert definitions("README.md", b"# hi") is None
    assert syntax_error_line("README.md", "((((") is None


@pytest.mark.parametrize(("path", "source", "line"), [
    ("a.py", "def f():\n    return 1\n", None),
    ("a.py", "x = 1\n\ndef f(:\n    pass\n", 3),
    ("a.go", "package a\n\nfunc F() {\n", 3),
    ("a.rs", "fn main() {\n    let x = ;\n}\n", 2),
    ("A.java", "class A { void f() { int x = } }", 1),
])
def test_syntax_error_line(path: str, source: str, line: int | None) -> None:
    assert syntax_error_line(path, source) == line
