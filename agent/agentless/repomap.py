"""A repository map for localisation: each source file with its classes and function
signatures (tree-sitter outlines, the same parser as the `search` tool), read from the
sandbox and bounded in files and characters."""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass, field

from agent.tools.treesitter.languages import language_of
from agent.tools.treesitter.parse import Definition, definitions
from sandbox.errors import QuorumError
from sandbox.protocol import Sandbox

MAX_FILE_BYTES = 400_000
_TEST_PATH = re.compile(r"(^|/)(tests?|testing)/|(^|/)test_[^/]*$|_test\.\w+$|(^|/)conftest\.py$")


def is_test_path(path: str) -> bool:
    return bool(_TEST_PATH.search(path))


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


def keyword_rank(repo_map: RepoMap, issue: str) -> list[str]:
    """Source files by how many of the issue's identifiers they define or mention: the
    fallback when the model names no file of the map."""
    words = {w for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]{2,}", issue)}

    def score(entry: FileEntry) -> int:
        names = {d.name for d in entry.defs}
        stem = posixpath.splitext(posixpath.basename(entry.path))[0]
        return 3 * len(words & names) + 2 * (stem in words) + sum(w in entry.text for w in words)

    ranked = sorted(repo_map.sources, key=lambda e: (-score(e), e.path))
    return [e.path for e in ranked]
