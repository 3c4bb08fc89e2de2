"""Definitions in one file's source: what `outline` lists and `symbol` searches."""

from __future__ import annotations

from dataclasses import dataclass

import tree_sitter

from agent.tools.treesitter.languages import compiled, language_of

# Definitions that make a nested function a method.
CLASS_LIKE = frozenset({"class", "interface", "struct", "enum", "trait", "impl", "record"})
SIGNATURE_CHARS = 120


@dataclass(frozen=True)
class Definition:
    name: str
    kind: str
    start_line: int  # 1-based, inclusive
    end_line: int
    parents: tuple[str, ...]  # enclosing definitions' names, outermost first
    signature: str  # the definition's first source line, stripped
    depth: int  # how many definitions enclose it in the source (for indentation)

    @property
    def qualified(self) -> str:
        return ".".join((*self.parents, self.name))


def parse(key: str, source: bytes) -> tree_sitter.Tree:
    language, _ = compiled(key)
    return tree_sitter.Parser(language).parse(source)


def definitions(path: str, source: bytes) -> list[Definition] | None:
    """The file's definitions in source order, or None if its language is unsupported."""
    key = language_of(path)
    if key is None:
        return None
    _, query = compiled(key)
    tree = parse(key, source)
    found: dict[int, tuple[int, tree_sitter.Node, str, str, str | None]] = {}
    for pattern, caps in tree_sitter.QueryCursor(query).matches(tree.root_node):
        def_key = next((k for k in caps if k.startswith("def.")), None)
        if def_key is None or "name" not in caps:
            continue
        node = caps[def_key][0]
        if node.id in found and found[node.id][0] < pattern:
            continue  # a more specific pattern (listed earlier) already matched it
        parent = caps["parent"][0].text.decode("utf-8", "replace") if "parent" in caps else None
        name = caps["name"][0].text.decode("utf-8", "replace")
        found[node.id] = (pattern, node, def_key.removeprefix("def."), name, parent)
    ordered = sorted(found.values(), key=lambda f: (f[1].start_byte, -f[1].end_byte))
    return _nest([f[1:] for f in ordered], source)


def _nest(items: list[tuple[tree_sitter.Node, str, str, str | None]],
          source: bytes) -> list[Definition]:
    """Parents by containment: each definition's enclosing ones are those still open."""
    lines = source.split(b"\n")
    stack: list[tuple[tree_sitter.Node, Definition]] = []
    out: list[Definition] = []
    for node, kind, name, parent in items:
        while stack and stack[-1][0].end_byte < node.end_byte:
            stack.pop()
        parents = tuple(d.name for _, d in stack)
        if parent and not parents:  # a Go method: its receiver type is its container
            parents = (parent,)
        if kind == "function" and stack and stack[-1][1].kind in CLASS_LIKE:
            kind = "method"
        row = node.start_point.row
        first = lines[row].decode("utf-8", "replace").strip() if row < len(lines) else ""
        if len(first) > SIGNATURE_CHARS:
            first = first[: SIGNATURE_CHARS - 3] + "..."
        definition = Definition(name=name, kind=kind, start_line=row + 1,
                                end_line=node.end_point.row + 1, parents=parents,
                                signature=first, depth=len(stack))
        out.append(definition)
        stack.append((node, definition))
    return out


def syntax_error_line(path: str, text: str) -> int | None:
    """The 1-based line of the first syntax error, None if it parses (or the language is
    unknown: no opinion is better than a wrong one)."""
    key = language_of(path)
    if key is None:
        return None
    root = parse(key, text.encode("utf-8")).root_node
    if not root.has_error:
        return None
    cursor = root.walk()
    while True:  # depth-first to the first ERROR or MISSING node
        node = cursor.node
        if node is not None and (node.is_error or node.is_missing):
            return node.start_point.row + 1
        if node is not None and node.has_error and cursor.goto_first_child():
            continue
        while not cursor.goto_next_sibling():
            if not cursor.goto_parent():
                return root.start_point.row + 1
