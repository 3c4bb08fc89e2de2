"""Fixtures for the model layer: a live stand-in server and clients wired to it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from agent.llm import BudgetCaps, Ledger, LLMClient, ModelConfig, Price, RetryPolicy
from tests.helpers.openai_standin import OpenAIStandIn

KEY = "sk-test-not-a-real-key"
PRICE = Price(input=1.0, cached_input=0.25, output=4.0)  # USD per 1M tokens, easy arithmetic
FAST_RETRY = RetryPolicy(max_attempts=3, base_s=0.01, max_backoff_s=0.05)


@pytest.fixture
def standin() -> Iterator[OpenAIStandIn]:
    with OpenAIStandIn(api_key=KEY) as server:
        yield server


MakeClient = Callable[..., LLMClient]


@pytest.fixture
async def make_client(standin: OpenAIStandIn) -> AsyncIterator[MakeClient]:
    """`make_client(caps=..., retry=..., **ModelConfig fields)` -> a client on the stand-in;
    `client.ledger` is its ledger. Clients are closed at teardown."""
    made: list[LLMClient] = []

    def make(*, caps: BudgetCaps | None = None, retry: RetryPolicy = FAST_RETRY,
             ledger: Ledger | None = None, environ: dict[str, str] | None = None,
             **fields: Any) -> LLMClient:
        fields.setdefault("name", "standin-model")
        if not {"prices", "free", "gpu_hour_usd"} & fields.keys():
            fields["prices"] = PRICE
        fields.setdefault("supports_logprobs", True)
        fields.setdefault("base_url", standin.base_url)
        env = {"OPENAI_API_KEY": KEY} if environ is None else environ
        endpoint = ModelConfig(**fields).resolve(env)
        client = LLMClient(endpoint, ledger or Ledger(caps), retry=retry)
        made.append(client)
        return client

    yield make
    for c in made:
        await c.aclose()
