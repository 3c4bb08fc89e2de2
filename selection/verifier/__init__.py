"""The execution-free verifier: an LLM reads issue, condensed trajectory and patch and
answers YES/NO; the score is P(YES) / (P(YES) + P(NO)) at that one position (prefill only).

Backends: `EndpointVerifier` (any OpenAI-compatible endpoint with logprobs) and
`TransformersVerifier` (in-process, batched; import from selection.verifier.hf, it needs
the `gpu` extra)."""

from selection.verifier.endpoint import EndpointVerifier
from selection.verifier.memo import MemoVerifier
from selection.verifier.prompt import (
    VerifierItem,
    condense_trajectory,
    verifier_messages,
)
from selection.verifier.protocol import Verifier

__all__ = [
    "EndpointVerifier",
    "MemoVerifier",
    "Verifier",
    "VerifierItem",
    "condense_trajectory",
    "verifier_messages",
]
