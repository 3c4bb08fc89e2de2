"""The real embedded model: a completion and a YES/NO logprob pair over HTTP.

Slow the first time: the `embedded_model` fixture fetches the 1.1 GB model into the cache
the CLI uses (QUORUM_CACHE_DIR, else the user's).
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from openai import OpenAI

from agent.llm.client import LLMClient
from agent.llm.config import ModelConfig
from agent.llm.embedded import EmbeddedServer
from agent.llm.ledger import BudgetCaps, Ledger

pytestmark = [pytest.mark.embedded, pytest.mark.slow, pytest.mark.timeout(3600)]

QUESTION = [
    {"role": "system", "content": "You are a careful reviewer. Answer with YES or NO only."},
    {"role": "user", "content": "Does this Python function return the sum of a and b?\n\n"
     "def add(a, b):\n    return a + b\n\nAnswer YES or NO."},
]


@pytest.fixture(scope="module")
def server(embedded_model: Path) -> Iterator[EmbeddedServer]:
    with EmbeddedServer(embedded_model, n_ctx=2048) as srv:
        yield srv


@pytest.fixture(scope="module")
def sdk(server: EmbeddedServer) -> OpenAI:
    return OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=300)


def test_a_chat_completion(server: EmbeddedServer, sdk: OpenAI) -> None:
    reply = sdk.chat.completions.create(
        model=server.model_name,
        messages=[{"role": "user", "content": "Write a Python function that squares x."}],
        max_tokens=32,
        temperature=0.0,
    )
    text = reply.choices[0].message.content or ""
    assert "def " in text
    assert reply.usage is not None and reply.usage.completion_tokens > 0
    assert reply.usage.prompt_tokens > 10


def test_a_yes_no_logprob_pair(server: EmbeddedServer, sdk: OpenAI) -> None:
    reply = sdk.chat.completions.create(
        model=server.model_name, messages=QUESTION, max_tokens=1, temperature=0.0,
        logprobs=True, top_logprobs=10,
    )
    content = reply.choices[0].logprobs.content
    assert content, "no logprobs in the reply"
    top = {t.token.strip().upper(): math.exp(t.logprob) for t in content[0].top_logprobs}
    assert "YES" in top and "NO" in top, top
    assert top["YES"] > top["NO"]


async def test_through_the_client_like_any_endpoint(server: EmbeddedServer) -> None:
    config = ModelConfig(name=server.model_name, base_url=server.base_url, api_key_env=None,
                         free=True, supports_tools=False, supports_logprobs=True,
                         context_window=2048, timeout_s=600)
    ledger = Ledger(BudgetCaps(run_tokens=20_000))
    async with LLMClient(config.resolve({}), ledger) as client:
        verdict, done = await client.score_yes_no(QUESTION, top_logprobs=10)
        assert 0.5 < verdict.score <= 1.0 and verdict.p_no > 0.0
        assert done.usage.prompt_tokens > 10 and done.cost_usd == 0.0
        reply = await client.complete(
            [{"role": "user", "content": "Say hello in one word."}], caller="agent",
            max_tokens=8, temperature=0.0,
        )
        assert reply.text and reply.usage.completion_tokens > 0
    spent = ledger.report()
    assert spent.total.total_tokens == done.usage.total_tokens + reply.usage.total_tokens
    assert set(spent.by_caller) == {"verifier", "agent"}


def test_its_log_says_where_the_time_went_and_what_prefix_was_reused(
        server: EmbeddedServer, sdk: OpenAI) -> None:
    import time
    import uuid

    from agent.llm.embedded_perf import ModelTime, read_model_time

    def totals(after: int) -> ModelTime:
        deadline = time.monotonic() + 10  # llama.cpp prints its timings as it finishes
        while True:
            found = read_model_time(server.log_path) or ModelTime()
            if found.requests >= after or time.monotonic() > deadline:
                return found
            time.sleep(0.2)

    before = totals(0)
    # a prompt no earlier request began with (only the chat template's first tokens are
    # shared with what the server holds), sent twice
    nonce = uuid.uuid4().hex
    prompt = [{"role": "user", "content": f"{nonce} Is this sure? " + "Sure? " * 40}]
    usage = []
    for _ in range(2):
        reply = sdk.chat.completions.create(model=server.model_name, messages=prompt,
                                            max_tokens=2, temperature=0.0)
        usage.append(reply.usage)
    after = totals(before.requests + 2)
    assert after.requests == before.requests + 2
    evaluated = after.prompt_tokens_evaluated - before.prompt_tokens_evaluated
    # the usage counts every prompt token both times; the server evaluated about one
    # prompt's worth, reading the second from its context, which only its log shows
    one = usage[0].prompt_tokens
    assert one == usage[1].prompt_tokens > 40
    assert one - 8 <= evaluated <= one + 8, (evaluated, one)
    assert after.prompt_s > before.prompt_s and after.generation_s > before.generation_s
