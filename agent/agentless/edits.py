"""Applying a repair to file text, in memory: SEARCH/REPLACE (exact, then tolerant of
trailing and leading whitespace), whole-definition rewrite, whole-file rewrite. Each
raises EditError with a reason the trajectory records; `check_file` decides whether an
edited file may count (it parses, changes code rather than comments or layout, and keeps
every definition)."""

from __future__ import annotations

import ast
import warnings

from agent.tools.treesitter.parse import Definition, definitions, syntax_error_line
from sandbox.errors import QuorumError


class EditError(QuorumError):
    """A reply that gives no usable edit; the message says why."""


def _indent(line: str) -> str:
    return line[: len(line) - len(line.lstrip())]


def _reindent(lines: list[str], old: str, new: str) -> list[str]:
    """Shift lines whose indentation starts with `old` so it starts with `new` instead."""
    if old == new:
        return lines
    out = []
    for line in lines:
        if line.startswith(old):
            out.append(new + line[len(old) :] if line.strip() else line)
        elif not line.strip():
            out.append(line)
        else:  # less indented than the first line: shift what can be shifted
            out.append(new + line.lstrip())
    return out


def _trim_blank(lines: list[str]) -> list[str]:
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return lines[start:end]


def search_replace(text: str, search: str, replace: str) -> str:
    """Replace the one place `search` occurs. Exact first; then line by line ignoring
    trailing whitespace; then ignoring indentation (the replacement is re-indented)."""
    if not search.strip():
        raise EditError("empty SEARCH part")
    if search in text:
        if text.count(search) > 1:
            raise EditError("SEARCH text occurs more than once")
        return text.replace(search, replace, 1)
    lines = text.split("\n")
    want = _trim_blank(search.split("\n"))
    new = _trim_blank(replace.split("\n"))
    for norm in (str.rstrip, str.strip):
        target = [norm(s) for s in want]
        hits = [
            i for i in range(len(lines) - len(want) + 1)
            if [norm(s) for s in lines[i: i + len(want)]] == target
        ]  # fmt: skip
        if len(hits) > 1:
            raise EditError("SEARCH text occurs more than once")
        if hits:
            i = hits[0]
            body = _reindent(new, _indent(want[0]), _indent(lines[i])) if new else []
            return "\n".join(lines[:i] + body + lines[i + len(want) :])
    raise EditError("SEARCH text not found in the file")


def replace_definitions(path: str, text: str, code: str, prefer: set[str] = frozenset()) -> str:
    """Put each top-level definition of `code` in place of the file's definition of the
    same name (a method of one of the `prefer`red qualified names first)."""
    new_defs = definitions(path, code.encode())
    if new_defs is None:
        raise EditError(f"no parser for {path}")
    tops = [d for d in new_defs if d.depth == 0]
    if not tops:
        raise EditError("the reply holds no function or class definition")
    old_defs = definitions(path, text.encode()) or []
    code_lines = code.split("\n")
    lines = text.split("\n")
    chosen: list[tuple[Definition, Definition]] = []
    for new in tops:
        same = [d for d in old_defs if d.name == new.name]
        if not same:
            continue
        best = next((d for d in same if d.qualified in prefer), same[0])
        if all(best is not c for _, c in chosen):
            chosen.append((new, best))
    if not chosen:
        names = ", ".join(d.name for d in tops)
        raise EditError(f"no definition in the reply ({names}) exists in {path}")
    for new, old in sorted(chosen, key=lambda pair: -pair[1].start_line):
        body = code_lines[new.start_line - 1 : new.end_line]
        body = _reindent(body, _indent(body[0]), _indent(lines[old.start_line - 1]))
        lines[old.start_line - 1 : old.end_line] = body
    return "\n".join(lines)


def rewrite_file(path: str, text: str, code: str) -> str:
    """The reply as the whole new file, refused when it drops definitions the original
    had (a small model's "rest of the file unchanged")."""
    if not code.strip():
        raise EditError("empty file in the reply")
    lost = lost_definitions(path, text, code)
    if lost:
        raise EditError(f"the rewritten file drops {', '.join(lost[:5])}")
    return code if code.endswith("\n") else code + "\n"


def lost_definitions(path: str, original: str, edited: str) -> list[str]:
    before = {d.qualified for d in definitions(path, original.encode()) or []}
    after = {d.qualified for d in definitions(path, edited.encode()) or []}
    return sorted(before - after)


def _same(a: str, b: str) -> bool:
    return [ln.rstrip() for ln in a.strip().split("\n")] == [
        ln.rstrip() for ln in b.strip().split("\n")
    ]


def _same_code(original: str, edited: str) -> bool:
    """Same syntax tree without docstrings: the edit touched only comments, docstrings,
    blank lines or layout (as Agentless normalises patches)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return _code_only(original) == _code_only(edited)
    except SyntaxError:  # the original does not parse: nothing to compare
        return False


def _code_only(source: str) -> str:
    tree = ast.parse(source)
    for node in ast.walk(tree):
        body = getattr(node, "body", None)
        if (isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef)
                and body and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)):  # fmt: skip
            node.body = body[1:] or [ast.Pass()]
    return ast.dump(tree)


def check_file(path: str, original: str, edited: str) -> None:
    """An edit counts only if the file still parses and differs from the original."""
    if _same(original, edited):
        raise EditError("identical to the original")
    line = syntax_error_line(path, edited)
    if line is not None:
        raise EditError(f"the edited {path} does not parse (line {line})")
    if path.endswith(".py"):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                ast.parse(edited, filename=path)
        except SyntaxError as exc:
            raise EditError(
                f"the edited {path} does not compile: {exc.msg} (line {exc.lineno})"
            ) from None
        if _same_code(original, edited):
            raise EditError("changes only comments, docstrings or formatting")
    # A bug fix that deletes functions is almost always a small model's botched edit.
    lost = lost_definitions(path, original, edited)
    if lost:
        raise EditError(f"the edit drops {', '.join(lost[:5])}")
