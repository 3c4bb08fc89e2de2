"""Keeping the conversation inside the context window: old observations are condensed
first, the system prompt, the task and recent steps are kept whole."""

from __future__ import annotations

from typing import Any

CHARS_PER_TOKEN = 3  # a cautious average for code; errs toward condensing early
KEEP_RECENT = 6  # messages at the end that are never condensed
PREFIX = 3  # system, task, variant: the shared prefix is never touched


def estimate_tokens(messages: list[dict[str, Any]]) -> int:
    return sum(len(str(m.get("content") or "")) + 200 for m in messages) // CHARS_PER_TOKEN


def condense(messages: list[dict[str, Any]], budget_tokens: int) -> int:
    """Elide old tool outputs, oldest first, until the estimate fits; returns how many."""
    condensed = 0
    for message in messages[PREFIX : max(PREFIX, len(messages) - KEEP_RECENT)]:
        if estimate_tokens(messages) <= budget_tokens:
            break
        content = message.get("content")
        old_output = message.get("role") in ("tool", "user") and isinstance(content, str)
        if old_output and len(content) > 300 and not content.startswith("[condensed"):
            message["content"] = (
                f"[condensed: {len(content)} characters of old output elided]\n{content[:200]}"
            )
            condensed += 1
    return condensed


def truncate(text: str, limit: int) -> str:
    if len(text) <= limit:
        return text
    half = limit // 2
    dropped = len(text) - 2 * half
    return f"{text[:half]}\n[... {dropped} characters truncated ...]\n{text[-half:]}"
