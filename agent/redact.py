"""Secrets never reach disk: what a run writes (trajectories, candidates) passes through
here. Keys never enter prompts or sandboxes by design; this catches the ones an issue text,
a repository or a model's reply carries anyway, by their well-known shapes."""

from __future__ import annotations

import re

REDACTED = "[REDACTED]"
_SHAPES = [
    r"-----BEGIN [A-Z ]*PRIVATE KEY-----.*?-----END [A-Z ]*PRIVATE KEY-----",
    r"\bsk-(?:proj-|ant-)?[A-Za-z0-9_-]{20,}",  # OpenAI, Anthropic
    r"\bgh[pousr]_[A-Za-z0-9]{30,}",  # GitHub tokens
    r"\bgithub_pat_[A-Za-z0-9_]{30,}",
    r"\bhf_[A-Za-z0-9]{30,}",  # Hugging Face
    r"\bAKIA[0-9A-Z]{16}\b",  # AWS access key ids
    r"(?i:(?P<bearer>authorization:\s*bearer\s+)[A-Za-z0-9._~+/=-]{16,})",
]
# One pass over the text: a trajectory is redacted each time it is saved, after every step.
_SECRET = re.compile("|".join(_SHAPES), re.S)


def redact(text: str) -> str:
    return _SECRET.sub(lambda m: (m.group("bearer") or "") + REDACTED, text)
