"""One model's configuration, and its resolution against the environment.

`ModelConfig` is pure data (what the user writes). `ModelConfig.resolve(environ)` is the one
place that reads environment variables (the SDK conventions `OPENAI_BASE_URL` and the
configured key variable); it is called by the config-loading layer, and the client is built
from the resulting `Endpoint`, so nothing deeper reads the environment.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

from agent.llm.errors import AuthError
from agent.llm.prices import ModelPricing, Price, price_for

DEFAULT_BASE_URL = "https://api.openai.com/v1"
NO_KEY = "not-needed"  # local servers (vLLM, llama.cpp) accept any key; the SDK wants one


class ModelConfig(BaseModel):
    """A model behind an OpenAI-compatible endpoint."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(description="model name as the endpoint knows it, e.g. gpt-4o-mini")
    base_url: str | None = Field(
        default=None, description="endpoint URL ending in /v1; None = $OPENAI_BASE_URL, "
        "else the OpenAI API"
    )
    api_key_env: str | None = Field(
        default="OPENAI_API_KEY",
        description="name of the environment variable holding the key; None for endpoints "
        "that need none (a local vLLM or llama.cpp server)",
    )
    context_window: int | None = Field(default=None, gt=0, description="prompt + output tokens")
    max_output_tokens: int = Field(default=4096, gt=0, description="default max_tokens a call")
    prices: Price | None = Field(default=None, description="overrides the built-in price table")
    free: bool = Field(default=False, description="tokens are counted but cost nothing")
    gpu_hour_usd: float | None = Field(
        default=None, gt=0, description="price a local model per GPU-hour of measured busy time"
    )
    supports_tools: bool = Field(default=True, description="native tool calls; else the text "
                                 "action protocol is used")
    supports_logprobs: bool = Field(default=False, description="returns top_logprobs")
    size: Literal["small", "large"] | None = Field(
        default=None, description="small: the tool-using agent loop asks too much of it, so "
        "`--solver auto` gives its trajectories the agentless pipeline (the embedded model is "
        "small); large or unset: the agent loop")
    max_tokens_param: Literal["max_tokens", "max_completion_tokens"] = Field(
        default="max_tokens",
        description="request field bounding the output; o-series models need "
        "max_completion_tokens",
    )
    timeout_s: float = Field(default=600.0, gt=0, description="hard limit on one attempt")

    @model_validator(mode="after")
    def _one_pricing(self) -> ModelConfig:
        given = [k for k, v in (("prices", self.prices), ("free", self.free or None),
                                ("gpu_hour_usd", self.gpu_hour_usd)) if v is not None]
        if len(given) > 1:
            raise ValueError(f"give at most one of prices, free, gpu_hour_usd (got {given})")
        return self

    def pricing(self) -> ModelPricing:
        """Raises UnknownPrice for a model neither priced, free, nor in the table."""
        if self.gpu_hour_usd is not None:
            return ModelPricing(gpu_hour_usd=self.gpu_hour_usd)
        return ModelPricing(price=price_for(self.name, override=self.prices, free=self.free))

    def resolve(self, environ: Mapping[str, str]) -> Endpoint:
        """Bind the config to an environment: base URL, key and price, checked up front."""
        base_url = self.base_url or environ.get("OPENAI_BASE_URL") or DEFAULT_BASE_URL
        if self.api_key_env is None:
            key = NO_KEY
        else:
            key = environ.get(self.api_key_env, "").strip()
            if not key:
                raise AuthError(
                    f"no API key for model {self.name!r} at {base_url}: "
                    f"${self.api_key_env} is not set",
                    hint=f"export {self.api_key_env}=... (or set api_key_env: null for a "
                    "local endpoint that needs no key)",
                )
        return Endpoint(config=self, base_url=base_url.rstrip("/"), api_key=SecretStr(key),
                        pricing=self.pricing())


class Endpoint(BaseModel):
    """A resolved model: what the client needs, nothing read from the environment later.
    The key is a SecretStr so reprs and logs never show it."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    config: ModelConfig
    base_url: str
    api_key: SecretStr
    pricing: ModelPricing

    @property
    def model(self) -> str:
        return self.config.name
