"""Unified diffs split by file and parsed into hunks: the one parser, built on `unidiff`.
Git diffs and plain `---`/`+++` diffs; new, deleted and renamed files, binary patches,
paths with spaces, with or without the `a/` `b/` prefixes."""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict
from unidiff import PatchedFile, PatchSet, UnidiffParseError

_HUNK = re.compile(r"^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@(.*)$")


class FileDiff(BaseModel):
    """One file of a diff. `path` is the path after the change (before it, for a deleted
    file); `text` the file's section exactly as the diff wrote it (binary data included)."""

    model_config = ConfigDict(extra="forbid")

    path: str
    source_path: str = ""
    hunks: list[tuple[int, list[str]]]  # (old start line, lines with their ' ', '-', '+')
    new_file: bool = False
    deleted: bool = False
    renamed: bool = False
    binary: bool = False
    text: str = ""


def _strip(name: str) -> str:
    name = name.split("\t")[0].rstrip("\n")
    return name[2:] if name.startswith(("a/", "b/")) else name


def _patch_set(patch: str) -> PatchSet:
    try:
        return PatchSet(_recount(patch))
    except UnidiffParseError:
        return PatchSet("")  # not a diff: no files


def _recount(patch: str) -> str:
    """The diff with every hunk header counting the lines that follow it, line for line
    (so sections keep their places). Hand-edited diffs (many predictions) miscount their
    hunks, and unidiff would silently drop what a header did not promise; an empty line
    the header still expects is a context line that lost its space; one after a complete
    hunk is a separator."""
    lines = patch.splitlines(keepends=True)
    out: list[str] = []
    i = 0
    while i < len(lines):
        m = _HUNK.match(lines[i])
        out.append(lines[i])
        i += 1
        if not m:
            continue
        header = len(out) - 1
        expect = int(m.group(2) or 1) + int(m.group(4) or 1)
        old = new = 0
        while i < len(lines) and not _next_file(lines, i):
            line, sign = lines[i], lines[i][:1]
            if sign not in (" ", "-", "+", "\\"):
                if line.strip("\r\n") or expect <= 0:
                    break
                line, sign = " " + line, " "
            old += sign in (" ", "-")
            new += sign in (" ", "+")
            expect -= {" ": 2, "-": 1, "+": 1}.get(sign, 0)
            out.append(line)
            i += 1
        out[header] = f"@@ -{m.group(1)},{old} +{m.group(3)},{new} @@{m.group(5)}\n"
    return "".join(out)


def _next_file(lines: list[str], j: int) -> bool:
    if lines[j].startswith(("diff --git ", "@@ ")):
        return True
    return lines[j].startswith("--- ") and j + 1 < len(lines) and lines[j + 1].startswith("+++ ")


def _hunks(pf: PatchedFile) -> list[tuple[int, list[str]]]:
    # '' is a blank line after a complete hunk (a separator), '\\' the no-newline marker
    return [
        (h.source_start, [f"{ln.line_type}{ln.value.rstrip(chr(10)).rstrip(chr(13))}"
                          for ln in h if ln.line_type in (" ", "-", "+")])
        for h in pf
    ]  # fmt: skip


def _starts(lines: list[str], files: list[PatchedFile]) -> list[int]:
    """The line each file's section starts on: its `diff --git` line, else its `---`."""
    starts, at = [], 0
    for pf in files:
        git = [x for x in pf.patch_info or [] if x.startswith("diff --git ")]
        want = "diff --git " if git else "--- "
        while at < len(lines) and not lines[at].startswith(want):
            at += 1
        starts.append(at)
        at += 1
    return starts


def parse_diff(patch: str) -> list[FileDiff]:
    files = list(_patch_set(patch))
    lines = patch.splitlines(keepends=True)
    starts = _starts(lines, files)
    out = []
    for k, pf in enumerate(files):
        end = starts[k + 1] if k + 1 < len(starts) else len(lines)
        deleted = pf.is_removed_file
        target, source = _strip(pf.target_file or ""), _strip(pf.source_file or "")
        path = source if deleted or target in ("", "dev/null", "/dev/null") else target
        out.append(FileDiff(
            path=path, source_path=source if not pf.is_added_file else "",
            hunks=_hunks(pf), new_file=pf.is_added_file, deleted=deleted,
            renamed=pf.is_rename, binary=pf.is_binary_file,
            text="".join(lines[starts[k]:end]),
        ))  # fmt: skip
    return out


def split_by_file(patch: str) -> dict[str, str]:
    """Each file's section, keyed by its path after the change (e.g. to separate a
    reproduction test from a fix)."""
    return {d.path: d.text for d in parse_diff(patch)}


def changed_files(patch: str) -> list[str]:
    return [d.path for d in parse_diff(patch)]


def without_files(patch: str, paths: set[str]) -> str:
    return "".join(d.text for d in parse_diff(patch) if d.path not in paths)
