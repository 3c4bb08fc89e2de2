"""Reading a small model's replies: code fences, file lists, SEARCH/REPLACE blocks.
Everything here tolerates the usual slips (missing closing fence, prose around the code,
extra markers) and returns nothing rather than raising on a reply it cannot use."""

from __future__ import annotations

import re
from dataclasses import dataclass

_FENCE = re.compile(r"^[ \t]*```[^\n`]*\n(.*?)(?:^[ \t]*```[ \t]*$|\Z)", re.S | re.M)
_BLOCK = re.compile(
    r"^[ \t]*<{5,}[ \t]*SEARCH[^\n]*\n(.*?)^[ \t]*={5,}[ \t]*\n(.*?)"
    r"^[ \t]*>{5,}[ \t]*REPLACE[^\n]*$",
    re.S | re.M,
)
_PATH_LINE = re.compile(r"^[#>*\s]*(?:file(?:name)?\s*:\s*)?`?([\w./-]+\.\w+)`?\s*:?\s*$", re.I)


def code_blocks(text: str) -> list[str]:
    """Bodies of the fenced blocks; an unclosed last fence runs to the end of the reply."""
    return [m.group(1) for m in _FENCE.finditer(text)]


def main_code(text: str) -> str:
    """The code of a reply that should be one file or one function: the longest fenced
    block, else the reply without stray fence lines."""
    blocks = [b for b in code_blocks(text) if b.strip()]
    if blocks:
        return max(blocks, key=len)
    lines = [ln for ln in text.splitlines() if not ln.strip().startswith("```")]
    return "\n".join(lines).strip("\n") + "\n"


@dataclass(frozen=True)
class SearchReplace:
    path: str | None  # as the model wrote it; None when no path precedes the block
    search: str
    replace: str


def search_replace_blocks(text: str) -> list[SearchReplace]:
    """Each SEARCH/REPLACE block with the file path named on the nearest line before it
    (`### path`, `path:`, `File: path`, or a bare path)."""
    found = []
    for match in _BLOCK.finditer(text):
        before = text[: match.start()].splitlines()
        path = None
        for line in reversed(before[-4:]):
            if line.strip().startswith("```") and len(line.strip()) > 3 and "." in line:
                line = line.strip().lstrip("`")  # ```path/to/file.py
            hit = _PATH_LINE.match(line)
            if hit and not hit.group(1).startswith("."):
                path = hit.group(1)
                break
        found.append(SearchReplace(path, match.group(1), match.group(2)))
    return found


def listed_paths(text: str) -> list[str]:
    """Path-like tokens in reading order, once each (a file ranking reply)."""
    seen: list[str] = []
    for token in re.findall(r"[\w./-]+\.\w+", text):
        token = token.strip("./") if token.startswith("./") else token.rstrip(".")
        if token not in seen:
            seen.append(token)
    return seen


def listed_names(text: str) -> list[str]:
    """Identifiers a narrowing reply names (`path::name`, `Class.method`, `def name`)."""
    names: list[str] = []
    for token in re.findall(r"[A-Za-z_][\w.]*(?:::[A-Za-z_][\w.]*)?", text):
        name = token.split("::")[-1]
        if name not in names:
            names.append(name)
    return names
