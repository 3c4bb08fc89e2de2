"""The verifier on any OpenAI-compatible endpoint with logprobs (vLLM, llama.cpp, OpenAI),
through agent.llm's client, so every call is reserved and billed in the run's ledger."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence

from agent.llm import AuthError, LLMClient, ModelError
from selection.verifier.prompt import VerifierItem, verifier_messages

log = logging.getLogger(__name__)


class EndpointVerifier:
    def __init__(
        self,
        client: LLMClient,
        *,
        concurrency: int = 4,
        top_logprobs: int = 20,
        caller: str = "verifier",
    ) -> None:
        self.client = client
        self.name = f"verifier:{client.config.name}"
        self.top_logprobs = top_logprobs
        self.caller = caller
        self._gate = asyncio.Semaphore(concurrency)

    async def _one(self, item: VerifierItem) -> tuple[str, float | None]:
        async with self._gate:
            try:
                judged, _ = await self.client.score_yes_no(
                    verifier_messages(item),
                    caller=self.caller,
                    trajectory_id=item.candidate_id,
                    top_logprobs=self.top_logprobs,
                )  # BudgetExhausted is no ModelError: it stops the scoring, as it should
            except AuthError:
                raise
            except ModelError as exc:  # one unscorable candidate must not sink the rest
                log.warning("verifier: %s not scored: %s", item.candidate_id, exc)
                return item.candidate_id, None
            return item.candidate_id, judged.score

    async def score(self, items: Sequence[VerifierItem]) -> dict[str, float]:
        # Each task returns its own id with its score: nothing is matched up by position.
        results = await asyncio.gather(*(self._one(i) for i in items))
        return {cid: s for cid, s in results if s is not None}
