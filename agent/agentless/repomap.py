"""A repository map for localisation: each source file with its classes and function
signatures (tree-sitter outlines, the same parser as the `search` tool), read from the
sandbox and bounded in files and characters."""

from __future__ import annotations

import ast
import posixpath
import re
from dataclasses import dataclass, field

from agent.tools.treesitter.languages import language_of
from agent.tools.treesitter.parse import Definition, definitions
from envs.testfiles import is_test_file
from sandbox.errors import QuorumError
from sandbox.protocol import Sandbox

MAX_FILE_BYTES = 400_000


def is_test_path(path: str) -> bool:
    return is_test_file(path)  # the one rule (envs.testfiles)


@dataclass
class FileEntry:
    path: str
    text: str
    defs: list[Definition] = field(default_factory=list)

    @property
    def lines(self) -> int:
        return self.text.count("\n") + (0 if self.text.endswith("\n") or not self.text else 1)


@dataclass
class RepoMap:
    files: list[FileEntry]  # source files first, then tests; each in path order
    skipped: int = 0  # files not read (over the bound, or unsupported)

    def get(self, path: str) -> FileEntry | None:
        return next((f for f in self.files if f.path == path), None)

    @property
    def sources(self) -> list[FileEntry]:
        return [f for f in self.files if not is_test_path(f.path)]

    def render(self, max_chars: int) -> str:
        out: list[str] = []
        used = 0
        for entry in self.sources:
            block = [f"{entry.path} ({entry.lines} lines)"]
            block += [f"{'  ' * (d.depth + 1)}{d.signature}" for d in entry.defs]
            text = "\n".join(block)
            if used + len(text) > max_chars:
                out.append(f"... ({len(self.sources) - len(out)} more files not shown)")
                break
            out.append(text)
            used += len(text) + 1
        return "\n".join(out)

    def resolve(self, name: str) -> str | None:
        """A path the model wrote, as a path of the map: exact, without ./ or a leading
        slash, or by unique suffix / basename."""
        name = name.strip().strip("`'\"*,:;()[]").removeprefix("./").lstrip("/")
        if not name:
            return None
        paths = [f.path for f in self.files]
        if name in paths:
            return name
        ends = [p for p in paths if p.endswith("/" + name)]
        if len(ends) == 1:
            return ends[0]
        base = [p for p in paths if posixpath.basename(p) == posixpath.basename(name)]
        return base[0] if len(base) == 1 else None


def build_map(sandbox: Sandbox, *, max_files: int = 300) -> RepoMap:
    """Tracked files in a language tree-sitter knows, outlined; bounded by `max_files`."""
    listed = sandbox.exec("git ls-files", timeout=60).stdout.splitlines()
    wanted = [p for p in listed if language_of(p) is not None]
    wanted.sort(key=lambda p: (is_test_path(p), p))
    files: list[FileEntry] = []
    skipped = len(listed) - len(wanted)
    for path in wanted:
        if len(files) >= max_files:
            skipped += 1
            continue
        try:
            data = sandbox.read_file(path)
        except QuorumError:
            skipped += 1
            continue
        if len(data) > MAX_FILE_BYTES:
            skipped += 1
            continue
        text = data.decode("utf-8", "replace")
        files.append(FileEntry(path, text, definitions(path, data) or []))
    return RepoMap(files, skipped)


def issue_score(entry: FileEntry, issue: str) -> int:
    """How much a file has to do with the issue: identifiers it defines or mentions, its
    name, and operators the issue's code spans use (`**`, `//`, `->`)."""
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", issue))
    spans = " ".join(re.findall(r"`([^`]+)`", issue))
    operators = set(re.findall(r"[^\w\s()\[\]{},.'\"`]{2,3}", spans))
    names = {d.name for d in entry.defs}
    stem = posixpath.splitext(posixpath.basename(entry.path))[0]
    return (3 * len(words & names) + 2 * (stem in words) + sum(w in entry.text for w in words)
            + 2 * sum(op in entry.text for op in operators))  # fmt: skip


def keyword_rank(repo_map: RepoMap, issue: str) -> list[str]:
    """Source files by `issue_score`: the fallback when the model names no file of the map."""
    ranked = sorted(repo_map.sources, key=lambda e: (-issue_score(e, issue), e.path))
    return [e.path for e in ranked]


def imported_sources(repo_map: RepoMap, path: str) -> list[str]:
    """The map's source files a Python file imports (`import a.b`, `from a import b`,
    `from . import b`), in the order it imports them."""
    entry = repo_map.get(path)
    if entry is None or not path.endswith(".py"):
        return []
    try:
        tree = ast.parse(entry.text)
    except SyntaxError:
        return []
    package = posixpath.dirname(path).replace("/", ".")
    modules: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative: climb from this file's package
                parts = package.split(".") if package else []
                parts = parts[: len(parts) - (node.level - 1)] if node.level > 1 else parts
                base = ".".join([*parts, *([base] if base else [])])
            modules += [base, *(f"{base}.{alias.name}" for alias in node.names)]
    found: list[str] = []
    for module in modules:
        stem = module.replace(".", "/")
        for candidate in (f"{stem}.py", f"{stem}/__init__.py"):
            hit = repo_map.get(candidate)
            if hit is not None and candidate != path and hit in repo_map.sources:
                if candidate not in found:
                    found.append(candidate)
                break
    return found


def with_imported(repo_map: RepoMap, picked: list[str], issue: str, limit: int) -> list[str]:
    """Up to `limit` more files that the picked ones import, those most about the issue
    first: a symptom is often in one module and its cause in a module it imports."""
    if limit <= 0:
        return []
    neighbours = [p for path in picked for p in imported_sources(repo_map, path)]
    fresh = [p for i, p in enumerate(neighbours) if p not in picked and p not in neighbours[:i]]
    fresh.sort(key=lambda p: -issue_score(repo_map.get(p), issue))  # stable: import order
    return fresh[:limit]
