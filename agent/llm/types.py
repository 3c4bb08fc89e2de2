"""The data the model layer hands to its callers: usage, tool calls, logprobs, completions."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class Usage(BaseModel):
    """Tokens of one call as the server reports them. `cached_tokens` is the part of
    `prompt_tokens` served from the provider's prompt cache (priced lower)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    prompt_tokens: int = Field(default=0, ge=0)
    completion_tokens: int = Field(default=0, ge=0)
    cached_tokens: int = Field(default=0, ge=0)

    @property
    def total_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


class ToolCall(BaseModel):
    """A native tool call. `arguments` is the raw JSON text the model wrote: parsing it is
    the action protocol's job, so a malformed one becomes a precise FormatError there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    name: str
    arguments: str


class TopLogprob(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str
    logprob: float


class TokenLogprob(BaseModel):
    """One generated position: the sampled token and the top alternatives there."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    token: str
    logprob: float
    top: list[TopLogprob] = Field(default_factory=list)


class Completion(BaseModel):
    """One successful chat completion, already settled in the ledger."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    text: str | None
    tool_calls: list[ToolCall] = Field(default_factory=list)
    finish_reason: str | None = None
    usage: Usage
    logprobs: list[TokenLogprob] | None = None
    latency_s: float = Field(description="wall time of the successful attempt")
    cost_usd: float = Field(description="what the ledger charged for this call")
    attempts: int = Field(default=1, description="1 + retries")
    max_tokens: int = Field(description="the output bound actually sent, after clipping")
    message: dict[str, Any] = Field(
        default_factory=dict, description="the assistant message, ready to append to history"
    )
