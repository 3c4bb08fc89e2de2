"""An upper bound on a chat prompt's token count, for the ledger's reservations.

The reservation must never under-count, or a call could cross the budget. No tokenizer is
exact across endpoints (GPT, Qwen, DeepSeek, Llama and Claude all tokenise differently) and
tiktoken's encodings download at first use, which fails offline. So we bound instead of
estimate: every byte-level BPE tokenizer (and sentencepiece with byte fallback) emits at
most one token per UTF-8 byte of text, plus the chat template's special tokens. Counting
bytes over-reserves about 3-4x for English and code, which costs only headroom near the cap:
settlement replaces the reservation by the server's actual usage.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

PER_MESSAGE = 16  # role markers and separators of any chat template we know (chatml: ~5)
PER_REQUEST = 16  # reply priming, BOS
TOOLS_PREAMBLE = 512  # templates wrap tool schemas in instructions (Qwen's: ~150 tokens)


def _bytes(value: Any) -> int:
    if value is None:
        return 0
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    # Content parts, tool calls: their JSON text over-covers what the template renders.
    return len(json.dumps(value, ensure_ascii=False).encode("utf-8"))


def prompt_token_bound(
    messages: Sequence[Mapping[str, Any]], tools: Sequence[Mapping[str, Any]] | None = None
) -> int:
    """A count no tokenizer we target exceeds for this prompt."""
    total = PER_REQUEST
    for m in messages:
        total += PER_MESSAGE
        for key, value in m.items():
            total += _bytes(value) if key != "role" else 0
    if tools:
        total += TOOLS_PREAMBLE + _bytes(list(tools))
    return total
