"""The seam the agent, test writer and verifiers depend on: anything that completes a chat.
`LLMClient` is the implementation; tests use it against the stand-in server rather than a
fake of this protocol, but code should type against `Model`."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Protocol, runtime_checkable

from agent.llm.config import ModelConfig
from agent.llm.logprobs import YesNo
from agent.llm.toolspec import ToolSpec
from agent.llm.types import Completion


@runtime_checkable
class Model(Protocol):
    config: ModelConfig

    async def complete(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        caller: str,
        trajectory_id: str | None = None,
        tools: Sequence[ToolSpec] | None = None,
        max_tokens: int | None = None,
        temperature: float | None = None,
        top_logprobs: int | None = None,
        stop: Sequence[str] | None = None,
        seed: int | None = None,
        extra_body: Mapping[str, Any] | None = None,
    ) -> Completion: ...

    async def score_yes_no(
        self,
        messages: Sequence[Mapping[str, Any]],
        *,
        caller: str = "verifier",
        trajectory_id: str | None = None,
        top_logprobs: int = 20,
        yes: str = "YES",
        no: str = "NO",
    ) -> tuple[YesNo, Completion]: ...
