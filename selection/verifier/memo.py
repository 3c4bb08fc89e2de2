"""A verifier that judges each patch of an issue once. A live `adaptive` allocation scores
candidates as their trajectories finish (it stops on a well-scored answer); the selection
after it asks again for the same patches and gets the recorded scores, so no patch is paid
for twice. Patches are the same when their normalised forms are (selection/normalize.py),
as `verify_group` already treats them. Only scores are kept: a patch the backend could not
score is asked again next time."""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence

from selection.normalize import normalised_id
from selection.verifier.prompt import VerifierItem
from selection.verifier.protocol import Verifier


class MemoVerifier:
    def __init__(self, inner: Verifier) -> None:
        self.inner = inner
        self.name = inner.name
        self._scores: dict[str, float] = {}
        self._lock = asyncio.Lock()  # two callers at once never pay for one patch twice

    async def score(self, items: Sequence[VerifierItem]) -> dict[str, float]:
        keys = {item.candidate_id: _key(item) for item in items}
        async with self._lock:
            todo: dict[str, VerifierItem] = {}
            for item in items:
                key = keys[item.candidate_id]
                if key not in self._scores and key not in todo:
                    todo[key] = item
            if todo:
                scored = await self.inner.score(list(todo.values()))
                for key, item in todo.items():
                    if item.candidate_id in scored:
                        self._scores[key] = scored[item.candidate_id]
        return {cid: self._scores[key] for cid, key in keys.items() if key in self._scores}


def _key(item: VerifierItem) -> str:
    issue = hashlib.sha256(item.issue.encode()).hexdigest()[:16]
    return f"{issue}:{normalised_id(item.patch)}"
