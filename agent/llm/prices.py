"""Token prices: a built-in table for well-known models, overridable per model in config.

Prices are USD per million tokens, as the providers publish them. An unknown model is an
error (`UnknownPrice`) rather than silently free: a run with a hard budget must know what
every token costs. Local models are either declared free or priced per GPU-hour (see
`ModelConfig.gpu_hour_usd`); their tokens are still counted.
"""

from __future__ import annotations

import re

from pydantic import BaseModel, ConfigDict, Field

from agent.llm.errors import UnknownPrice


class Price(BaseModel):
    """USD per million tokens. `cached_input` applies to prompt tokens the provider served
    from its prompt cache; it defaults to the full input price (no discount assumed)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    input: float = Field(ge=0, description="USD per 1M uncached prompt tokens")
    output: float = Field(ge=0, description="USD per 1M completion tokens (reasoning included)")
    cached_input: float | None = Field(
        default=None, ge=0, description="USD per 1M cached prompt tokens; None = input price"
    )

    @property
    def cached(self) -> float:
        return self.input if self.cached_input is None else self.cached_input


FREE = Price(input=0.0, output=0.0, cached_input=0.0)

# Taken from the providers' public price pages as of 2025-06 (OpenAI, Anthropic, DeepSeek
# standard-hours, Together AI for open-weight models). Prices change: check them before a
# paid run, and override in config when they differ. Anthropic's "cached" is the cache-read
# price; cache writes (1.25x input) are not modelled.
BUILTIN_PRICES: dict[str, Price] = {
    "gpt-4o": Price(input=2.50, cached_input=1.25, output=10.00),
    "gpt-4o-mini": Price(input=0.15, cached_input=0.075, output=0.60),
    "gpt-4.1": Price(input=2.00, cached_input=0.50, output=8.00),
    "gpt-4.1-mini": Price(input=0.40, cached_input=0.10, output=1.60),
    "gpt-4.1-nano": Price(input=0.10, cached_input=0.025, output=0.40),
    "o1": Price(input=15.00, cached_input=7.50, output=60.00),
    "o3-mini": Price(input=1.10, cached_input=0.55, output=4.40),
    "o4-mini": Price(input=1.10, cached_input=0.275, output=4.40),
    "claude-3-5-sonnet": Price(input=3.00, cached_input=0.30, output=15.00),
    "claude-3-7-sonnet": Price(input=3.00, cached_input=0.30, output=15.00),
    "claude-3-5-haiku": Price(input=0.80, cached_input=0.08, output=4.00),
    "deepseek-chat": Price(input=0.27, cached_input=0.07, output=1.10),
    "deepseek-reasoner": Price(input=0.55, cached_input=0.14, output=2.19),
    "qwen2.5-coder-32b-instruct": Price(input=0.80, output=0.80),
}

# Dated snapshots and aliases price like their family: gpt-4o-2024-08-06,
# claude-3-5-sonnet-20241022, claude-3-7-sonnet-latest.
_SNAPSHOT = re.compile(r"-(\d{4}-\d{2}-\d{2}|\d{8}|latest)$")


def normalise_model_name(name: str) -> str:
    """`openai/gpt-4o-2024-08-06` -> `gpt-4o`; `Qwen/Qwen2.5-Coder-32B-Instruct` ->
    `qwen2.5-coder-32b-instruct`. Exact matches only after this: never prefix matching,
    which would price gpt-4o-mini as gpt-4o."""
    base = name.strip().lower().rsplit("/", 1)[-1]
    return _SNAPSHOT.sub("", base)


def builtin_price(name: str) -> Price | None:
    return BUILTIN_PRICES.get(name) or BUILTIN_PRICES.get(normalise_model_name(name))


def price_for(name: str, *, override: Price | None = None, free: bool = False) -> Price:
    """The price of one model: config override, then free, then the built-in table."""
    if override is not None:
        return override
    if free:
        return FREE
    found = builtin_price(name)
    if found is None:
        raise UnknownPrice(
            f"no price known for model {name!r}",
            hint="set `prices: {input: ..., cached_input: ..., output: ...}` (USD per 1M "
            "tokens) in its model config, declare it `free: true`, or give `gpu_hour_usd`",
        )
    return found


class ModelPricing(BaseModel):
    """How the ledger charges one model: per token, or per GPU-hour of measured busy time
    (the GPU is paid for while any request to it is in flight, shared among them)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    price: Price = FREE
    gpu_hour_usd: float | None = Field(default=None, gt=0)
