"""Patch normalisation: two patches that differ only in comments, docstrings or formatting
get the same key, so they count as one fix (for dedup, and for majority voting).

Two levels, because a pool may come with or without its repository:

- `normalise_patch(patch)` needs only the diff. Per file, the removed and added lines are
  kept in order with hunk positions and context dropped; for Python each line is reduced to
  its tokens (comments gone, spacing canonical) with its indentation width kept (indentation
  is meaning in Python), and lines that are only a comment, blank or a bare string literal
  (a docstring line) are dropped. A fragment cannot be parsed as a module, so re-wrapping a
  statement over several lines still differs; that costs some merges, never a false one
  beyond docstring-only changes.
- `normalise_patch(patch, files=...)` with the base text of the changed files applies the
  patch in memory and, as Agentless does, parses each changed Python file and unparses it
  without docstrings (ast drops comments and formatting); the key is the normalised text
  of every changed file after the patch. A file that does not parse falls back to the
  diff-level form.

Other languages: exact text of the changed lines (whitespace at line ends stripped)."""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import tokenize
from collections.abc import Mapping

from envs.patch import FileDiff, parse_diff
from envs.testfiles import is_test_file


class PatchDoesNotApply(ValueError):
    pass


def apply_in_memory(text: str, diff: FileDiff) -> str:
    """The file after the patch; context must match (like `git apply` without fuzz)."""
    lines = [] if diff.new_file else text.splitlines()
    out: list[str] = []
    pos = 0
    for start, body in diff.hunks:
        at = max(start - 1, 0) if not diff.new_file else 0
        if at < pos:
            raise PatchDoesNotApply(f"{diff.path}: overlapping hunks")
        out.extend(lines[pos:at])
        pos = at
        for line in body:
            sign, content = line[:1], line[1:]
            if sign in (" ", "-"):
                if pos >= len(lines) or lines[pos].rstrip() != content.rstrip():
                    raise PatchDoesNotApply(f"{diff.path}: context differs at line {pos + 1}")
                pos += 1
                if sign == " ":
                    out.append(content)
            else:
                out.append(content)
    out.extend(lines[pos:])
    return "\n".join(out) + "\n"


def normalise_python_source(source: str) -> str | None:
    """ast round trip without docstrings; None when it does not parse."""
    try:
        tree = ast.parse(source)
    except (SyntaxError, ValueError):
        return None
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef):
            body = node.body
            if (
                body
                and isinstance(body[0], ast.Expr)
                and isinstance(body[0].value, ast.Constant)
                and isinstance(body[0].value.value, str)
            ):
                node.body = body[1:] or [ast.Pass()]
    return ast.unparse(tree)


def _python_line(line: str) -> str | None:
    """A changed line's tokens with its indentation width; None for comment/blank/docstring."""
    stripped = line.strip()
    if not stripped or stripped.startswith("#"):
        return None
    indent = len(line.expandtabs(4)) - len(line.expandtabs(4).lstrip())
    try:
        toks = [
            t
            for t in tokenize.generate_tokens(io.StringIO(stripped + "\n").readline)
            if t.type
            not in (
                tokenize.COMMENT,
                tokenize.NL,
                tokenize.NEWLINE,
                tokenize.ENDMARKER,
                tokenize.INDENT,
                tokenize.DEDENT,
            )
        ]
    except (tokenize.TokenError, SyntaxError):
        return f"{indent}|{' '.join(stripped.split())}"  # part of a multi-line construct
    if len(toks) == 1 and toks[0].type == tokenize.STRING:
        return None  # a docstring (or a bare string statement): no behaviour
    return f"{indent}|{' '.join(t.string for t in toks)}"


def _diff_level(diff: FileDiff) -> str:
    python = diff.path.endswith(".py")
    out = [f"file {diff.path}"]
    for _, body in diff.hunks:
        for line in body:
            if line[:1] not in ("-", "+"):
                continue
            norm = _python_line(line[1:]) if python else line[1:].rstrip()
            if norm is not None:
                out.append(line[0] + norm)
    return "\n".join(out)


def _code_diffs(patch: str) -> list[FileDiff]:
    diffs = parse_diff(patch)
    if any(not is_test_file(d.path) for d in diffs):
        diffs = [d for d in diffs if not is_test_file(d.path)]
    return diffs


@functools.lru_cache(maxsize=64)
def _normalised_base(source: str) -> str | None:
    """The base file normalised, once per base text (every candidate compares against it)."""
    return normalise_python_source(source)


def _full_file(diff: FileDiff, files: Mapping[str, str]) -> str | None:
    """The changed Python file after the patch, normalised; None where that cannot be had
    (not Python, deleted, its base unknown, the patch does not apply, no parse)."""
    if not diff.path.endswith(".py") or diff.deleted:
        return None
    if not (diff.new_file or diff.path in files):
        return None
    try:
        return normalise_python_source(apply_in_memory(files.get(diff.path, ""), diff))
    except PatchDoesNotApply:
        return None


def _normalise(patch: str, files: Mapping[str, str] | None, *, strict: bool) -> str | None:
    """The canonical text; with `strict`, None unless every changed Python file (a deleted
    one aside) is normalised as a whole file."""
    parts = []
    for diff in sorted(_code_diffs(patch), key=lambda d: d.path):
        after = _full_file(diff, files) if files is not None else None
        if after is None:
            if strict and diff.path.endswith(".py") and not diff.deleted:
                return None
            parts.append(_diff_level(diff))
        elif after != _normalised_base(files.get(diff.path, "")):  # type: ignore[union-attr]
            parts.append(f"file {diff.path} (full)\n{after}")
        # else: only comments, docstrings or layout changed
    return "\n".join(p for p in parts if "\n" in p)  # a file with no code change drops


def normalise_patch(patch: str, files: Mapping[str, str] | None = None) -> str:
    """A canonical text for the patch (see the module doc); '' for an empty patch. Test
    files a patch adds or edits are left out when it also changes other files: two fixes
    that differ only in the tests their authors wrote are the same fix."""
    return _normalise(patch, files, strict=False) or ""


def _key(norm: str) -> str:
    return hashlib.sha256(norm.encode()).hexdigest()[:12] if norm else ""


def full_file_id(patch: str, files: Mapping[str, str]) -> str | None:
    """`normalised_id` with every changed Python file compared whole; None where one cannot
    be (its patch does not apply to the base, no parse). Keys of one pool should all be
    full-file or all diff-level: a mix never matches."""
    norm = _normalise(patch, files, strict=True)
    return None if norm is None else _key(norm)


def normalised_id(patch: str, files: Mapping[str, str] | None = None) -> str:
    return _key(normalise_patch(patch, files))
