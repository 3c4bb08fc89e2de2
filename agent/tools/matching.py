"""Why a `str_replace` did not match: where the text occurs, or what it nearly matches."""

from __future__ import annotations

import difflib

MAX_WORK = 4_000_000  # characters compared; beyond this the hint is skipped, not slow


def occurrence_lines(text: str, needle: str) -> list[int]:
    """1-based line numbers where each (non-overlapping) occurrence of `needle` starts."""
    lines, pos = [], text.find(needle)
    while pos != -1:
        lines.append(text.count("\n", 0, pos) + 1)
        pos = text.find(needle, pos + len(needle))
    return lines


def close_matches(text: str, needle: str, *, limit: int = 3,
                  cutoff: float = 0.6) -> list[tuple[int, float, str]]:
    """(line, similarity, text) of the windows of the file most like `needle`, the window
    being as many lines as `needle` has: a model's near miss is usually whitespace, a
    stale line or a small typo."""
    lines = text.split("\n")
    width = max(needle.strip("\n").count("\n") + 1, 1)
    if len(lines) * len(needle) > MAX_WORK:
        return []
    target = needle.strip("\n")
    matcher = difflib.SequenceMatcher(autojunk=False)
    matcher.set_seq2(target)
    found: list[tuple[int, float, str]] = []
    for i in range(max(len(lines) - width + 1, 1)):
        window = "\n".join(lines[i: i + width])
        matcher.set_seq1(window)
        if matcher.real_quick_ratio() < cutoff or matcher.quick_ratio() < cutoff:
            continue
        ratio = matcher.ratio()
        if ratio >= cutoff:
            found.append((i + 1, ratio, window))
    found.sort(key=lambda f: (-f[1], f[0]))
    best: list[tuple[int, float, str]] = []
    for item in found:  # overlapping windows of one near miss count once
        if all(abs(item[0] - b[0]) >= width for b in best):
            best.append(item)
        if len(best) == limit:
            break
    return best
