"""The async model client: any OpenAI-compatible endpoint, every call through the ledger.

One `LLMClient` per endpoint per run, built once (the SDK client and its connection pool
are reused by every call). Each attempt reserves its worst case in the ledger, is bounded by
a hard timeout, and settles with the server's usage or releases on failure. The SDK's own
retries are off so that ours, with their never-retry list, are the only ones.

    endpoint = ModelConfig(name="gpt-4o-mini").resolve(os.environ)
    ledger = Ledger(BudgetCaps(run_usd=5.0))
    client = LLMClient(endpoint, ledger)
    done = await client.complete(messages, caller="agent", trajectory_id="t1")
"""

from __future__ import annotations

import asyncio
import json
import logging
import random
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import httpx2
import openai
from openai import AsyncOpenAI
from openai.types.chat import ChatCompletion

from agent.llm.config import Endpoint
from agent.llm.errors import (
    AuthError,
    BadRequest,
    BadResponse,
    ContextLengthError,
    EndpointUnreachable,
    ModelError,
    RateLimited,
    ServerError,
)
from agent.llm.ledger import Ledger, Reservation
from agent.llm.logprobs import YesNo, yes_no_score
from agent.llm.retry import RetryPolicy, is_retryable_status
from agent.llm.tokens import prompt_token_bound
from agent.llm.toolspec import ToolSpec
from agent.llm.types import Completion, TokenLogprob, ToolCall, TopLogprob, Usage

log = logging.getLogger(__name__)

Message = Mapping[str, Any]

# OpenAI: code context_length_exceeded; vLLM: "maximum context length"; llama.cpp:
# "exceeds the available context size"; Anthropic-compatible: "prompt is too long".
_CONTEXT = re.compile(r"context.length|context.window|maximum context|context size|"
                      r"prompt is too long|too many tokens", re.I)
_GRACE_S = 1.0  # between reserving and the timeout starting; keeps GPU worst cases honest


class _Retry(Exception):
    """An attempt failed in a way worth retrying; carries what to raise if none is left."""

    def __init__(self, final: ModelError, headers: Mapping[str, str] | None = None) -> None:
        self.final = final
        self.headers = headers


class LLMClient:
    def __init__(self, endpoint: Endpoint, ledger: Ledger, *, retry: RetryPolicy | None = None,
                 rng: random.Random | None = None,
                 http_client: httpx2.AsyncClient | None = None) -> None:
        self.endpoint = endpoint
        self.config = endpoint.config
        self.ledger = ledger
        self.retry = retry or RetryPolicy()
        self._rng = rng or random.Random()
        ledger.register(endpoint.model, endpoint.pricing)
        self._sdk = AsyncOpenAI(base_url=endpoint.base_url,
                                api_key=endpoint.api_key.get_secret_value(),
                                max_retries=0, timeout=self.config.timeout_s,
                                http_client=http_client)

    async def aclose(self) -> None:
        await self._sdk.close()

    async def __aenter__(self) -> LLMClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    # -- public calls ----------------------------------------------------------------------
    async def complete(
        self,
        messages: Sequence[Message],
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
    ) -> Completion:
        """One chat completion. `caller` names who pays (agent, test_writer, verifier...).
        `max_tokens` may come back clipped by the budget (see `Completion.max_tokens`).
        Raises BudgetExhausted, AuthError, BadRequest/ContextLengthError, RateLimited,
        ServerError, EndpointUnreachable or BadResponse."""
        tool_schemas = [t.openai_schema() for t in tools] if tools else None
        if tool_schemas and not self.config.supports_tools:
            raise BadRequest(f"model {self.config.name!r} is configured without tool calls",
                             hint="use the text action protocol, or set supports_tools: true")
        if top_logprobs is not None and not self.config.supports_logprobs:
            raise BadRequest(f"model {self.config.name!r} is configured without logprobs",
                             hint="set supports_logprobs: true if the endpoint returns them")
        request: dict[str, Any] = {"model": self.config.name, "messages": list(messages)}
        if tool_schemas:
            request["tools"] = tool_schemas
        if temperature is not None:
            request["temperature"] = temperature
        if top_logprobs is not None:
            request["logprobs"] = True
            request["top_logprobs"] = top_logprobs
        if stop:
            request["stop"] = list(stop)
        if seed is not None:
            request["seed"] = seed
        if extra_body:
            request.update(extra_body)  # server-specific fields travel in the JSON body
        prompt_bound = prompt_token_bound(request["messages"], tool_schemas)
        wanted = max_tokens or self.config.max_output_tokens
        if self.config.context_window is not None:  # never ask for more than can exist
            wanted = min(wanted, self.config.context_window)

        attempt = 0
        while True:
            attempt += 1
            res = await self.ledger.areserve(caller, self.config.name, trajectory_id,
                                             prompt_bound, wanted,
                                             max_seconds=self.config.timeout_s + _GRACE_S)
            try:
                return await self._attempt(request, res, attempt)
            except _Retry as retry:
                if attempt >= self.retry.max_attempts:
                    raise retry.final from retry.__cause__
                delay = self.retry.wait(attempt, retry.headers, self._rng)
                log.info("model %s: %s; retry %d in %.2fs", self.config.name,
                         str(retry.final).splitlines()[0], attempt, delay)
                await asyncio.sleep(delay)

    async def score_yes_no(self, messages: Sequence[Message], *, caller: str = "verifier",
                           trajectory_id: str | None = None, top_logprobs: int = 20,
                           yes: str = "YES", no: str = "NO") -> tuple[YesNo, Completion]:
        """Ask a yes/no question and read P(YES)/(P(YES)+P(NO)) from the first answer
        token's logprobs; one output token is generated, the rest is prefill."""
        done = await self.complete(messages, caller=caller, trajectory_id=trajectory_id,
                                   max_tokens=1, temperature=0.0, top_logprobs=top_logprobs)
        return yes_no_score(done.logprobs, yes=yes, no=no), done

    # -- one attempt -------------------------------------------------------------------------
    async def _attempt(self, request: dict[str, Any], res: Reservation,
                       attempt: int) -> Completion:
        url = self.endpoint.base_url
        timeout = self.config.timeout_s
        send = dict(request)
        send[self.config.max_tokens_param] = res.max_tokens
        closed = False
        start = time.perf_counter()
        try:
            try:
                # A hard bound on the whole attempt: httpx's timeouts are per read.
                async with asyncio.timeout(timeout):
                    # post() rather than chat.completions.create(): create() walks every
                    # message through the SDK's TypedDict transform, which cost more CPU
                    # than the rest of a step (rollout_bench); our bodies are plain JSON.
                    raw = await self._sdk.post("/chat/completions", body=send,
                                               cast_to=ChatCompletion)
            except (TimeoutError, openai.APITimeoutError) as e:
                self.ledger.release(res, billed=True)  # the server may have done the work
                closed = True
                raise _Retry(EndpointUnreachable(
                    f"{url} did not answer within {timeout:g}s ({attempt} attempts)",
                    hint="the server may be overloaded; raise timeout_s in the model config")
                ) from e
            except openai.APIConnectionError as e:
                # Refused: never reached the server. Dropped mid-request: it may have run.
                refused = isinstance(e.__cause__, httpx2.ConnectError)
                self.ledger.release(res, billed=not refused)
                closed = True
                what = "refused the connection" if refused else "dropped the connection"
                raise _Retry(EndpointUnreachable(
                    f"cannot reach the model endpoint {url}: it {what} ({attempt} attempts)",
                    hint="check that the server is running and base_url (or $OPENAI_BASE_URL) "
                    "is right")) from e
            except openai.APIStatusError as e:
                self.ledger.release(res)  # errors are not billed
                closed = True
                raise self._status_error(e) from e
            except (ValueError, openai.APIResponseValidationError) as e:
                self.ledger.release(res, billed=True)  # it answered 200: it may bill
                closed = True
                raise BadResponse(
                    f"{url} answered with a body that is not a chat completion: {e}",
                    hint="is base_url an OpenAI-compatible endpoint ending in /v1?") from e
            latency = time.perf_counter() - start
            usage = self._usage(raw, res)
            cost = self.ledger.settle(res, usage)
            closed = True
            return self._completion(raw, res, usage, cost, latency, attempt)
        finally:
            if not closed:  # cancelled, or a bug: the cap must still hold
                self.ledger.release(res, billed=True)

    def _status_error(self, e: openai.APIStatusError) -> Exception:
        url, status = self.endpoint.base_url, e.status_code
        detail = _error_message(e)
        if is_retryable_status(status):
            kind = RateLimited if status == 429 else ServerError
            return _Retry(kind(f"{url} answered {status}: {detail}",
                               hint="the endpoint is overloaded or failing; try later"),
                          headers=e.response.headers)
        if status in (401, 403):
            env = self.config.api_key_env
            source = f"${env}" if env else "the configured key"
            return AuthError(f"{url} refused the API key from {source} ({status}: {detail})",
                             hint=f"check {source} holds a valid key for this endpoint")
        if e.code == "context_length_exceeded" or status == 413 or _CONTEXT.search(detail):
            return ContextLengthError(
                f"prompt too long for {self.config.name} ({status}: {detail})",
                hint="shorten the history or lower max_tokens; context_window in the model "
                "config should match the server's")
        if status == 404:
            return BadRequest(f"{url} answered 404 for model {self.config.name!r}: {detail}",
                              hint="check the model name (GET /v1/models lists what it serves)")
        return BadRequest(f"{url} rejected the request ({status}: {detail})")

    def _usage(self, raw: Any, res: Reservation) -> Usage:
        if not getattr(raw, "choices", None) or getattr(raw.choices[0], "message", None) is None:
            raise BadResponse(f"{self.endpoint.base_url} answered without a message: "
                              f"{str(raw)[:200]!r}")
        u = getattr(raw, "usage", None)
        if u is None:  # some servers omit usage: charge the reservation, it is the bound
            return Usage(prompt_tokens=res.prompt_tokens, completion_tokens=res.max_tokens)
        details = getattr(u, "prompt_tokens_details", None)
        return Usage(prompt_tokens=u.prompt_tokens or 0,
                     completion_tokens=u.completion_tokens or 0,
                     cached_tokens=(getattr(details, "cached_tokens", None) or 0))

    def _completion(self, raw: Any, res: Reservation, usage: Usage, cost: float,
                    latency: float, attempt: int) -> Completion:
        choice = raw.choices[0]
        msg = choice.message
        calls = [ToolCall(id=c.id, name=c.function.name, arguments=c.function.arguments or "")
                 for c in (msg.tool_calls or []) if getattr(c, "function", None) is not None]
        logprobs = None
        if choice.logprobs is not None and choice.logprobs.content is not None:
            logprobs = [TokenLogprob(token=t.token, logprob=t.logprob,
                                     top=[TopLogprob(token=a.token, logprob=a.logprob)
                                          for a in (t.top_logprobs or [])])
                        for t in choice.logprobs.content]
        message: dict[str, Any] = {"role": "assistant", "content": msg.content}
        if calls:
            message["tool_calls"] = [{"id": c.id, "type": "function", "function": {
                "name": c.name, "arguments": c.arguments}} for c in calls]
        return Completion(model=self.config.name, text=msg.content, tool_calls=calls,
                          finish_reason=choice.finish_reason, usage=usage, logprobs=logprobs,
                          latency_s=latency, cost_usd=cost, attempts=attempt,
                          max_tokens=res.max_tokens, message=message)


def _error_message(e: openai.APIStatusError) -> str:
    body = e.body
    if isinstance(body, dict):
        inner = body.get("error", body)
        if isinstance(inner, dict) and inner.get("message"):
            return str(inner["message"])
        if isinstance(inner, str):
            return inner
    if isinstance(body, str) and body:
        return body[:300]
    return json.dumps(body)[:300] if body is not None else e.message
