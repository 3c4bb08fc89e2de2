"""Which grammar parses which file: extension → language, and each language's compiled
grammar (from its official wheel, so nothing is downloaded) and definition query."""

from __future__ import annotations

import functools
import posixpath
from collections.abc import Callable
from dataclasses import dataclass

import tree_sitter
import tree_sitter_go
import tree_sitter_java
import tree_sitter_javascript
import tree_sitter_python
import tree_sitter_rust
import tree_sitter_typescript

from agent.tools.treesitter import queries


@dataclass(frozen=True)
class LanguageDef:
    name: str
    grammar: Callable[[], object]  # the wheel's `language()` capsule
    query: str


LANGUAGES: dict[str, LanguageDef] = {
    "python": LanguageDef("Python", tree_sitter_python.language, queries.PYTHON),
    "javascript": LanguageDef("JavaScript", tree_sitter_javascript.language,
                              queries.JAVASCRIPT),
    "typescript": LanguageDef("TypeScript", tree_sitter_typescript.language_typescript,
                              queries.TYPESCRIPT),
    "tsx": LanguageDef("TSX", tree_sitter_typescript.language_tsx, queries.TYPESCRIPT),
    "go": LanguageDef("Go", tree_sitter_go.language, queries.GO),
    "rust": LanguageDef("Rust", tree_sitter_rust.language, queries.RUST),
    "java": LanguageDef("Java", tree_sitter_java.language, queries.JAVA),
}

EXTENSIONS: dict[str, str] = {
    ".py": "python", ".pyi": "python",
    ".js": "javascript", ".mjs": "javascript", ".cjs": "javascript", ".jsx": "javascript",
    ".ts": "typescript", ".mts": "typescript", ".cts": "typescript",
    ".tsx": "tsx",
    ".go": "go",
    ".rs": "rust",
    ".java": "java",
}


def language_of(path: str) -> str | None:
    return EXTENSIONS.get(posixpath.splitext(path)[1].lower())


@functools.cache
def compiled(key: str) -> tuple[tree_sitter.Language, tree_sitter.Query]:
    """The grammar and its query, built once per process (both are immutable; parsers
    and cursors, which are not, are made per call)."""
    spec = LANGUAGES[key]
    language = tree_sitter.Language(spec.grammar())
    return language, tree_sitter.Query(language, spec.query)
