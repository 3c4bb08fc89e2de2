"""When and how long to wait before trying a model call again.

Ours are the only retries (the SDK's are switched off), so this is the whole policy: 408,
409, 429, 5xx, timeouts and dropped connections are retried with exponential backoff and
jitter; a server's `Retry-After` (or OpenAI's `retry-after-ms`) wins over our own guess.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from email.utils import parsedate_to_datetime
from time import time

from pydantic import BaseModel, ConfigDict, Field

RETRYABLE_STATUS = frozenset({408, 409, 429})  # and every 5xx


def is_retryable_status(status: int) -> bool:
    return status in RETRYABLE_STATUS or status >= 500


class RetryPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    max_attempts: int = Field(default=6, ge=1, description="1 + retries")
    base_s: float = Field(default=0.5, ge=0, description="first backoff, doubled each retry")
    max_backoff_s: float = Field(default=30.0, ge=0)
    max_retry_after_s: float = Field(
        default=120.0, ge=0, description="a longer Retry-After is clipped to this"
    )

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Wait after failed attempt number `attempt` (1-based): equal jitter, so waits grow
        but concurrent trajectories hit by one 429 burst do not come back in lockstep."""
        ceiling = min(self.max_backoff_s, self.base_s * 2 ** (attempt - 1))
        return ceiling / 2 + rng.uniform(0, ceiling / 2)

    def wait(self, attempt: int, headers: Mapping[str, str] | None, rng: random.Random) -> float:
        hinted = retry_after_s(headers) if headers is not None else None
        if hinted is not None:
            return min(hinted, self.max_retry_after_s)
        return self.backoff(attempt, rng)


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds the server asked us to wait, from `retry-after-ms` or `Retry-After` (delta
    seconds or an HTTP date); None when absent or unreadable."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            return max(0.0, float(ms) / 1000)
        except ValueError:
            pass
    value = headers.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError):
        return None
