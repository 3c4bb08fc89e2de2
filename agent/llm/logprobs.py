"""Reading a YES/NO judgement from the logprobs of one position.

The execution-free verifier asks a yes/no question and reads the distribution over the
first answer token rather than the sampled word: score = P(YES) / (P(YES) + P(NO)). Case
and surrounding whitespace variants of a word ("YES", " Yes", "yes") are summed, since a
tokenizer may put probability mass on any of them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from agent.llm.errors import BadResponse
from agent.llm.types import TokenLogprob


class YesNo(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    p_yes: float
    p_no: float
    score: float  # p_yes / (p_yes + p_no)


def yes_no_score(logprobs: Sequence[TokenLogprob] | None, *, position: int = 0,
                 yes: str = "YES", no: str = "NO") -> YesNo:
    """P(YES), P(NO) and the normalised score at `position` of a completion's logprobs."""
    if not logprobs:
        raise BadResponse("the completion has no logprobs",
                          hint="request top_logprobs and use an endpoint that returns them "
                          "(vLLM, llama.cpp with logprobs, OpenAI)")
    if position >= len(logprobs):
        raise BadResponse(f"no logprobs at position {position}: only {len(logprobs)} tokens")
    at = logprobs[position]
    # The sampled token is an alternative too (some servers omit it from top_logprobs).
    alternatives = {t.token: t.logprob for t in at.top}
    alternatives.setdefault(at.token, at.logprob)
    want_yes, want_no = yes.strip().casefold(), no.strip().casefold()
    p_yes = p_no = 0.0
    for token, lp in alternatives.items():
        word = token.strip().casefold()
        if word == want_yes:
            p_yes += math.exp(lp)
        elif word == want_no:
            p_no += math.exp(lp)
    if p_yes + p_no == 0.0:
        seen = ", ".join(repr(t) for t in list(alternatives)[:8])
        raise BadResponse(
            f"neither {yes!r} nor {no!r} among the top tokens at position {position} ({seen})",
            hint="ask for more top_logprobs, or make the prompt demand a one-word answer",
        )
    return YesNo(p_yes=p_yes, p_no=p_no, score=p_yes / (p_yes + p_no))
