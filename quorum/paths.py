"""Where Quorum keeps things on this machine. Environment variables are read here, at the
application layer, and passed down."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from platformdirs import user_cache_dir


def cache_dir(environ: Mapping[str, str]) -> Path:
    """QUORUM_CACHE_DIR, else the user's cache directory (models, cloned repositories)."""
    return Path(environ.get("QUORUM_CACHE_DIR") or user_cache_dir("quorum")).expanduser()
