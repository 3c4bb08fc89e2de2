"""The seam every verifier backend implements."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from selection.verifier.prompt import VerifierItem


@runtime_checkable
class Verifier(Protocol):
    name: str

    async def score(self, items: Sequence[VerifierItem]) -> dict[str, float]:
        """P(YES)/(P(YES)+P(NO)) for each item, keyed by its candidate id (never by
        position). An item the backend could not score is absent from the result."""
        ...
