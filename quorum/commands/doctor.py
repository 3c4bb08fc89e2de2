"""`quorum doctor`: one line per environment check, with a fix for each failure."""
from __future__ import annotations


def doctor() -> None:
    """Check the environment: Docker engine, base images, disk space, model access."""
    raise NotImplementedError  # filled in by the foundation work
