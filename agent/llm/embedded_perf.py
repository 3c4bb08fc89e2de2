"""Where the embedded model's time went, read from its server's log: llama.cpp prints one
`llama_perf_context_print` block per request, with the prompt tokens it evaluated (a prefix
it already holds is not evaluated again) and the tokens it generated, each with its time.
The OpenAI-style `usage` of llama-cpp-python's server reports neither the reuse
(`prompt_tokens_details` is absent: a run's ledger shows 0 cached tokens even where the
shared prefix was reused) nor the split, so this is where both are measured."""

from __future__ import annotations

import re
from pathlib import Path

from pydantic import BaseModel, ConfigDict

_PROMPT = re.compile(r"prompt eval time =\s*([\d.]+) ms /\s*(\d+) tokens")
_GENERATED = re.compile(r"(?<!prompt )eval time =\s*([\d.]+) ms /\s*(\d+) runs")


class ModelTime(BaseModel):
    """Totals over the requests a server answered."""

    model_config = ConfigDict(extra="forbid")

    requests: int = 0
    prompt_tokens_evaluated: int = 0
    prompt_s: float = 0.0
    generated_tokens: int = 0
    generation_s: float = 0.0

    @property
    def busy_s(self) -> float:
        return self.prompt_s + self.generation_s


def model_time(log_text: str) -> ModelTime:
    total = ModelTime()
    for line in log_text.splitlines():
        if "llama_perf_context_print" not in line:
            continue
        if found := _PROMPT.search(line):
            total.requests += 1
            total.prompt_s += float(found[1]) / 1000
            total.prompt_tokens_evaluated += int(found[2])
        elif found := _GENERATED.search(line):
            total.generation_s += float(found[1]) / 1000
            total.generated_tokens += int(found[2])
    return total


def read_model_time(log: Path) -> ModelTime | None:
    """None when the log is absent or holds no request (a server that answered nothing)."""
    try:
        found = model_time(log.read_text(errors="replace"))
    except OSError:
        return None
    return found if found.requests else None
