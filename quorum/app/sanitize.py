"""Issue and comment text, cleaned before a model sees it.

Text on GitHub is untrusted. What a reader of the issue page cannot see must not reach the
model either: HTML comments (rendered as nothing), zero-width and other format characters,
bidirectional overrides and isolates (which make text read differently than it runs) and the
Unicode tag characters (an invisible copy of ASCII). Length is bounded, visibly."""

from __future__ import annotations

import re
import unicodedata

TRUNCATED = "\n[truncated]"
DEFAULT_LIMIT = 20_000
_HTML_COMMENT = re.compile(r"<!--.*?(?:-->|\Z)", re.S)  # an unclosed one hides the rest too
_KEEP = frozenset("\n\t")


def invisible(ch: str) -> bool:
    """A code point that renders as nothing or reorders text: the Cf (format) category holds
    zero-width spaces and joiners, the bidi embeddings/overrides (U+202A-202E) and isolates
    (U+2066-2069), the BOM, and the tag block (U+E0000-E007F); other controls (Cc) but newline
    and tab go too, as do the noncharacters and private-use planes' tag-like abuse."""
    if ch in _KEEP:
        return False
    category = unicodedata.category(ch)
    return category in ("Cf", "Cc", "Cs", "Co", "Cn") or 0xE0000 <= ord(ch) <= 0xE0FFF


def clean_untrusted(text: str, limit: int = DEFAULT_LIMIT) -> str:
    """`text` without HTML comments and invisible code points, newlines as `\\n`, at most
    `limit` characters (a longer text ends in "[truncated]"). Idempotent."""
    if limit < len(TRUNCATED):
        raise ValueError(f"limit must be at least {len(TRUNCATED)}")
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\u2028", "\n").replace("\u2029", "\n")
    # Invisible characters first: `<!\u200b--` must not survive as a comment opener.
    text = "".join(ch for ch in text if not invisible(ch))
    while (stripped := _HTML_COMMENT.sub("", text)) != text:  # `<!<!-- -->--` leaves `<!--`
        text = stripped
    text = text.strip("\n")
    if len(text) <= limit:
        return text
    return (text[: limit - len(TRUNCATED)].rstrip("\n") + TRUNCATED).lstrip("\n")
