"""The imports of a generated reproduction test: the import lines shown to the model, and
mending the test from what pytest said when it uses a name it never imports (NameError) or
imports one from a module that does not define it. A small model repeats a wrong import
even when pytest's error is fed back (5 of 17 reproduction attempts in the timesheet demo
runs imported `render` from the package, which does not export it, and both tries failed
alike); mending costs no model call, where asking again costs a whole reply."""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

_NAME_ERROR = re.compile(r"NameError: name '(\w+)' is not defined")
_CANNOT_IMPORT = re.compile(r"ImportError: cannot import name '(\w+)' from '([\w.]+)'")
_NO_MODULE = re.compile(r"ModuleNotFoundError: No module named '([\w.]+)'")


def module_name(path: str) -> str | None:
    """The dotted module a repository file imports as from the repository root (a `src/`
    layout's package without `src`); None for a file that is not an importable module."""
    if not path.endswith(".py"):
        return None
    parts = path[:-3].split("/")
    if parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    if parts[-1] == "__init__":
        parts = parts[:-1]
    if not parts or not all(p.isidentifier() for p in parts):
        return None
    return ".".join(parts)


def top_level_names(source: str) -> list[str]:
    """Classes, functions and assigned names a module defines at its top level, in order
    (what it merely imports is left out: the defining module is the one to import from)."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return []
    names: list[str] = []
    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            names.append(node.name)
        elif isinstance(node, ast.Assign):
            names += [t.id for t in node.targets if isinstance(t, ast.Name)]
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name):
            names.append(node.target.id)
    return list(dict.fromkeys(names))


@dataclass(frozen=True)
class ModuleNames:
    module: str
    names: tuple[str, ...]
    shown: bool  # one of the files the model was shown


def index(files: Iterable[tuple[str, str]], shown: Sequence[str]) -> list[ModuleNames]:
    """(path, text) of the repository's sources as modules and the names they define."""
    out = []
    for path, text in files:
        module = module_name(path)
        if module is not None:
            out.append(ModuleNames(module, tuple(top_level_names(text)), path in shown))
    return out


def import_lines(modules: Sequence[ModuleNames]) -> str:
    """`from m import a, b` for every shown module's public names: what the prompt offers."""
    lines = []
    for m in modules:
        public = [n for n in m.names if not n.startswith("_")]
        if m.shown and public:
            lines.append(f"from {m.module} import {', '.join(public)}")
    return "\n".join(lines)


def _definer(name: str, modules: Sequence[ModuleNames]) -> str | None:
    """The one module that defines `name`, a shown one first; None when none or several do."""
    for pool in ([m for m in modules if m.shown], list(modules)):
        hits = [m.module for m in pool if name in m.names]
        if len(hits) == 1:
            return hits[0]
        if hits:
            return None
    return None


def mend(code: str, pytest_output: str, modules: Sequence[ModuleNames]) -> tuple[str, list[str]]:
    """The test with the imports pytest's output shows missing or wrong put right, and the
    import lines added; the code unchanged (and no line) when nothing can be mended."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return code, []
    imported_from = {
        node.module: node for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module and not node.level
    }  # fmt: skip
    wanted: dict[str, str] = {}  # name -> "from m import name" or "import name"
    wrong: dict[str, set[str]] = {}  # module -> names to drop from its `from m import`
    for name in _NAME_ERROR.findall(pytest_output):
        wanted.setdefault(name, "")
    for name, module in _CANNOT_IMPORT.findall(pytest_output):
        if module in imported_from:
            wrong.setdefault(module, set()).add(name)
            wanted.setdefault(name, "")
    for module in _NO_MODULE.findall(pytest_output):
        node = imported_from.get(module)
        if node is not None:
            names = {a.name for a in node.names if a.asname is None and a.name != "*"}
            if names and all(_definer(n, modules) for n in names):
                wrong.setdefault(module, set()).update(names)
                for n in names:
                    wanted.setdefault(n, "")
    for name in list(wanted):
        source = _definer(name, modules)
        if source is not None:
            wanted[name] = f"from {source} import {name}"
        elif name == "pytest" or name in sys.stdlib_module_names:
            wanted[name] = f"import {name}"
        else:
            del wanted[name]
            for names in wrong.values():
                names.discard(name)  # a wrong import left as it is shows the real error
    if not wanted:
        return code, []
    lines = code.split("\n")
    edits: list[tuple[int, int, list[str]]] = []  # (first, last) line, 0-based, replaced by
    for module, names in wrong.items():
        node = imported_from[module]
        kept = [a for a in node.names if a.name not in names]
        text = ast.unparse(ast.ImportFrom(module=module, names=kept, level=0)) if kept else None
        indent = re.match(r"\s*", lines[node.lineno - 1]).group(0)
        edits.append((node.lineno - 1, node.end_lineno - 1, [indent + text] if text else []))
    added = sorted(set(wanted.values()))
    at = _insertion_line(tree)
    edits.append((at, at - 1, added))  # an insertion before line `at`
    for first, last, new in sorted(edits, key=lambda e: -e[0]):
        lines[first: last + 1] = new
    return "\n".join(lines), added


def _insertion_line(tree: ast.Module) -> int:
    """After the module's leading docstring and top-level imports."""
    at = 0
    for i, node in enumerate(tree.body):
        docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
        if docstring or isinstance(node, ast.Import | ast.ImportFrom):
            at = node.end_lineno
        else:
            break
    return at
