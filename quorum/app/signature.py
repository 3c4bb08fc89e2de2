"""GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, body)>`
over the raw body bytes, compared in constant time. Checked before anything reads the body."""

from __future__ import annotations

import hashlib
import hmac

PREFIX = "sha256="


def sign(secret: str, body: bytes) -> str:
    """The header value GitHub sends for `body`."""
    return PREFIX + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def verify(secret: str, body: bytes, header: str | None) -> bool:
    """True when `header` is the signature of `body` under `secret`. An empty secret never
    verifies (a server without one would accept anything)."""
    if not secret or not header or not header.startswith(PREFIX):
        return False
    expected = sign(secret, body)
    # compare_digest on ASCII bytes: a non-ASCII header cannot raise, it just fails.
    return hmac.compare_digest(expected.encode(), header.encode("utf-8", "replace"))
