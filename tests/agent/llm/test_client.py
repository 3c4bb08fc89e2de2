"""The client against a live stand-in server, through the real openai SDK over HTTP."""

from __future__ import annotations

import time

import pytest

from agent.llm import (
    AuthError,
    BadRequest,
    BadResponse,
    BudgetCaps,
    BudgetExhausted,
    ContextLengthError,
    EndpointUnreachable,
    Ledger,
    LLMClient,
    ModelConfig,
    RateLimited,
    RetryPolicy,
    ServerError,
    ToolSpec,
    prompt_token_bound,
)
from tests.agent.llm.conftest import KEY, MakeClient
from tests.helpers.openai_standin import OpenAIStandIn, Reply

MSGS = [{"role": "system", "content": "You are terse."}, {"role": "user", "content": "Hi"}]


async def test_text_reply_usage_and_cost(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client()
    standin.script(Reply.text("hello", prompt_tokens=1000, completion_tokens=10,
                              cached_tokens=400))
    done = await client.complete(MSGS, caller="agent", trajectory_id="t1", max_tokens=50)
    assert done.text == "hello"
    assert done.finish_reason == "stop"
    assert (done.usage.prompt_tokens, done.usage.cached_tokens,
            done.usage.completion_tokens) == (1000, 400, 10)
    # 600 uncached x $1/M + 400 cached x $0.25/M + 10 out x $4/M
    assert done.cost_usd == pytest.approx((600 * 1 + 400 * 0.25 + 10 * 4) / 1e6)
    assert done.attempts == 1 and done.latency_s > 0
    assert done.message == {"role": "assistant", "content": "hello"}
    sent = standin.requests[-1]
    assert sent.body["model"] == "standin-model"
    assert sent.body["messages"] == MSGS
    assert sent.body["max_tokens"] == 50
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    report = client.ledger.report()
    assert report.by_caller["agent"].usd == pytest.approx(done.cost_usd)
    assert report.by_trajectory["t1"].cached_tokens == 400
    assert report.in_flight == 0


async def test_tool_call(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client()
    bash = ToolSpec(name="bash", description="Run a command.", parameters={
        "type": "object", "properties": {"command": {"type": "string"}},
        "required": ["command"]})
    standin.script(Reply.tool_call("bash", {"command": "ls"}, call_id="call_7"))
    done = await client.complete(MSGS, caller="agent", tools=[bash])
    assert done.finish_reason == "tool_calls"
    assert [(c.id, c.name, c.arguments) for c in done.tool_calls] == [
        ("call_7", "bash", '{"command": "ls"}')]
    assert done.message["tool_calls"][0]["function"]["name"] == "bash"
    assert standin.requests[-1].body["tools"] == [bash.openai_schema()]


async def test_max_tokens_param_and_options_are_sent(standin: OpenAIStandIn,
                                                     make_client: MakeClient):
    client = make_client(max_tokens_param="max_completion_tokens", max_output_tokens=77)
    await client.complete(MSGS, caller="agent", temperature=0.3, seed=5, stop=["END"])
    body = standin.requests[-1].body
    assert body["max_completion_tokens"] == 77 and "max_tokens" not in body
    assert (body["temperature"], body["seed"], body["stop"]) == (0.3, 5, ["END"])


async def test_extra_body_fields_are_sent_at_the_top_level(standin: OpenAIStandIn,
                                                           make_client: MakeClient):
    await make_client().complete(MSGS, caller="agent", extra_body={"top_k": 20})
    body = standin.requests[-1].body
    assert body["top_k"] == 20 and "extra_body" not in body
    assert body["messages"] == MSGS


async def test_logprobs_yes_no_score(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client()
    standin.script(Reply.yes_no(0.6, 0.2, others={"Maybe": 0.1}))
    score, done = await client.score_yes_no(MSGS, trajectory_id="cand-1")
    assert score.p_yes == pytest.approx(0.6)
    assert score.p_no == pytest.approx(0.2)
    assert score.score == pytest.approx(0.75)
    body = standin.requests[-1].body
    assert body["logprobs"] is True and body["top_logprobs"] == 20 and body["max_tokens"] == 1
    assert done.logprobs is not None and done.logprobs[0].token == "YES"
    assert client.ledger.report().by_caller["verifier"].calls == 1


async def test_logprobs_refused_when_model_lacks_them(make_client: MakeClient):
    client = make_client(supports_logprobs=False)
    with pytest.raises(BadRequest, match="without logprobs"):
        await client.complete(MSGS, caller="verifier", top_logprobs=5)


async def test_retry_on_429_honours_retry_after(standin: OpenAIStandIn,
                                                make_client: MakeClient):
    client = make_client()
    standin.script(Reply.error(429, "slow down", retry_after=0.4), Reply.text("after wait"))
    start = time.perf_counter()
    done = await client.complete(MSGS, caller="agent")
    elapsed = time.perf_counter() - start
    assert done.text == "after wait" and done.attempts == 2
    assert elapsed >= 0.4  # the backoff policy alone would wait at most 0.05 s
    gap = standin.requests[1].at - standin.requests[0].at
    assert gap >= 0.4
    assert client.ledger.report().total.calls == 1  # the 429 cost nothing


async def test_retry_on_500_then_success(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client()
    standin.script(Reply.error(500, "boom"), Reply.error(503, "busy"), Reply.text("ok now"))
    done = await client.complete(MSGS, caller="agent")
    assert done.text == "ok now" and done.attempts == 3
    assert len(standin.requests) == 3


async def test_retries_exhausted_on_5xx_and_429(standin: OpenAIStandIn,
                                               make_client: MakeClient):
    client = make_client()
    standin.script(*[Reply.error(500, "boom")] * 3)
    with pytest.raises(ServerError, match="answered 500: boom"):
        await client.complete(MSGS, caller="agent")
    standin.script(*[Reply.error(429, "quota")] * 3)
    with pytest.raises(RateLimited, match="429"):
        await client.complete(MSGS, caller="agent")
    assert len(standin.requests) == 6
    assert client.ledger.report().in_flight == 0
    assert client.ledger.spent_usd() == 0


async def test_retry_on_dropped_connection(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client()
    standin.script(Reply.dropped(), Reply.text("back"))
    done = await client.complete(MSGS, caller="agent", max_tokens=10)
    assert done.text == "back" and done.attempts == 2
    # The dropped request may have been billed: its worst case is charged, not forgotten.
    report = client.ledger.report()
    assert report.lost_calls == 1 and report.in_flight == 0


async def test_slow_reply_times_out_and_retries(standin: OpenAIStandIn,
                                                make_client: MakeClient):
    client = make_client(timeout_s=0.2)
    standin.script(Reply.text("late", delay_s=3.0), Reply.text("on time"))
    start = time.perf_counter()
    done = await client.complete(MSGS, caller="agent")
    assert done.text == "on time" and done.attempts == 2
    assert time.perf_counter() - start < 2.0  # the hard timeout cut the first attempt


async def test_timeouts_exhausted_name_the_url(standin: OpenAIStandIn,
                                               make_client: MakeClient):
    client = make_client(timeout_s=0.1, retry=RetryPolicy(max_attempts=2, base_s=0.01))
    standin.script(Reply.text("late", delay_s=0.3), Reply.text("late", delay_s=0.3))
    with pytest.raises(EndpointUnreachable, match=r"did not answer within 0\.1s") as info:
        await client.complete(MSGS, caller="agent")
    assert standin.base_url in str(info.value)


@pytest.mark.parametrize("status", [401, 403])
async def test_auth_errors_are_not_retried(standin: OpenAIStandIn, make_client: MakeClient,
                                           status: int):
    client = make_client()
    standin.script(Reply.error(status, "Incorrect API key provided.", code="invalid_api_key"))
    with pytest.raises(AuthError, match=rf"refused the API key from \$OPENAI_API_KEY \({status}"):
        await client.complete(MSGS, caller="agent")
    assert len(standin.requests) == 1


async def test_wrong_key_is_rejected_without_leaking_it(standin: OpenAIStandIn,
                                                        make_client: MakeClient):
    client = make_client(api_key_env="MY_KEY", environ={"MY_KEY": "sk-wrong-secret"})
    with pytest.raises(AuthError) as info:
        await client.complete(MSGS, caller="agent")
    assert "$MY_KEY" in str(info.value)
    assert "sk-wrong-secret" not in str(info.value)
    assert "sk-wrong-secret" not in repr(client.endpoint)
    assert len(standin.requests) == 1


async def test_bad_request_is_not_retried(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client()
    standin.script(Reply.error(400, "temperature must be <= 2", err_type="invalid_request"))
    with pytest.raises(BadRequest, match="temperature must be <= 2") as info:
        await client.complete(MSGS, caller="agent")
    assert not isinstance(info.value, ContextLengthError)
    assert len(standin.requests) == 1


@pytest.mark.parametrize("message,code", [
    ("This model's maximum context length is 8192 tokens. However, you requested 9000",
     "context_length_exceeded"),
    ("This model's maximum context length is 4096 tokens. However, you requested 5000 "
     "tokens (4000 in the messages, 1000 in the completion).", None),  # vLLM
    ("the request exceeds the available context size, try increasing it", None),  # llama.cpp
])
async def test_context_length_is_not_retried(standin: OpenAIStandIn, make_client: MakeClient,
                                             message: str, code: str | None):
    client = make_client()
    standin.script(Reply.error(400, message, code=code))
    with pytest.raises(ContextLengthError, match="prompt too long for standin-model"):
        await client.complete(MSGS, caller="agent")
    assert len(standin.requests) == 1
    assert client.ledger.spent_usd() == 0


def test_missing_key_names_the_env_var(standin: OpenAIStandIn):
    config = ModelConfig(name="gpt-4o-mini", api_key_env="QUORUM_TEST_KEY")
    with pytest.raises(AuthError, match=r"\$QUORUM_TEST_KEY is not set") as info:
        config.resolve({})
    assert "export QUORUM_TEST_KEY=" in str(info.value)


async def test_unreachable_endpoint_names_the_url():
    # A port nothing listens on: bind, read the port, close.
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    endpoint = ModelConfig(name="gpt-4o-mini", base_url=url).resolve({"OPENAI_API_KEY": "k"})
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    async with LLMClient(endpoint, ledger, retry=RetryPolicy(max_attempts=2, base_s=0.01)) as c:
        with pytest.raises(EndpointUnreachable, match="refused the connection") as info:
            await c.complete(MSGS, caller="agent")
    assert url in str(info.value)
    assert ledger.report().lost_calls == 0  # refused: never reached, never billed


async def test_malformed_body_is_a_clear_error(standin: OpenAIStandIn,
                                               make_client: MakeClient):
    client = make_client()
    standin.script(Reply.malformed())
    with pytest.raises(BadResponse, match="not a chat completion") as info:
        await client.complete(MSGS, caller="agent")
    assert standin.base_url in str(info.value)
    assert len(standin.requests) == 1
    assert client.ledger.in_flight() == 0


async def test_body_without_choices_is_a_clear_error(standin: OpenAIStandIn,
                                                     make_client: MakeClient):
    client = make_client()
    standin.script(Reply.malformed(b'{"id": "x", "object": "chat.completion", "choices": []}'))
    with pytest.raises(BadResponse, match="without a message"):
        await client.complete(MSGS, caller="agent")
    assert client.ledger.in_flight() == 0


async def test_budget_refuses_before_sending(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client(caps=BudgetCaps(run_usd=0.000_05))  # 50 micro-dollars
    big = [{"role": "user", "content": "x" * 60_000}]  # bound >= 60k tokens = $0.06 at $1/M
    with pytest.raises(BudgetExhausted) as info:
        await client.complete(big, caller="agent", trajectory_id="t9")
    assert info.value.exit.scope == "run" and info.value.exit.caller == "agent"
    assert info.value.exit.trajectory_id == "t9"
    assert standin.requests == []


async def test_max_tokens_is_clipped_to_budget(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client(caps=BudgetCaps(run_tokens=1_000))
    done = await client.complete(MSGS, caller="agent", max_tokens=5_000)
    sent = standin.requests[-1].body["max_tokens"]
    assert sent == done.max_tokens < 1_000


async def test_one_ledger_shared_by_clients_of_two_models(standin: OpenAIStandIn,
                                                          make_client: MakeClient):
    ledger = Ledger(BudgetCaps(run_usd=1.0))
    agent = make_client(ledger=ledger, name="standin-model")
    verifier = make_client(ledger=ledger, name="local-verifier", free=True)
    standin.script(Reply.text("a", prompt_tokens=100, completion_tokens=5),
                   Reply.yes_no(0.9, 0.1, prompt_tokens=300))
    await agent.complete(MSGS, caller="agent", trajectory_id="t1")
    await verifier.score_yes_no(MSGS, trajectory_id="t1")
    report = ledger.report()
    assert set(report.by_model) == {"standin-model", "local-verifier"}
    assert report.by_model["local-verifier"].usd == 0
    assert report.by_model["local-verifier"].prompt_tokens == 300  # counted though free
    assert report.by_trajectory["t1"].calls == 2


async def test_sdk_retries_are_off(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client(retry=RetryPolicy(max_attempts=1))
    standin.script(Reply.error(500, "boom"))
    with pytest.raises(ServerError):
        await client.complete(MSGS, caller="agent")
    assert len(standin.requests) == 1  # ours are the only retries


async def test_models_endpoint(standin: OpenAIStandIn, make_client: MakeClient):
    client = make_client()
    models = await client._sdk.models.list()
    assert [m.id for m in models.data] == ["standin-model"]


async def test_concurrent_calls_through_one_client_stay_under_the_cap(
        standin: OpenAIStandIn, make_client: MakeClient):
    import asyncio

    # The server reports fewer prompt tokens than the bound reserves, and 8 of output.
    standin.default = Reply.text("fine", prompt_tokens=20, completion_tokens=8)
    cap = 0.003  # $3000e-6: room for a few dozen calls at $1/M in, $4/M out
    client = make_client(caps=BudgetCaps(run_usd=cap, min_output_tokens=8))

    async def trajectory(i: int) -> int:
        done = 0
        while True:
            try:
                await client.complete(MSGS, caller="agent", trajectory_id=f"t{i}",
                                      max_tokens=64)
            except BudgetExhausted:
                return done
            done += 1

    counts = await asyncio.gather(*(trajectory(i) for i in range(8)))
    report = client.ledger.report()
    assert report.total.usd <= cap and report.in_flight == 0
    assert sum(counts) == report.total.calls == len(standin.requests)
    # It stopped because the smallest call no longer fits, not earlier.
    smallest = (prompt_token_bound(MSGS) * 1 + 8 * 4) / 1e6  # $1/M in, $4/M out
    assert cap - report.total.usd < smallest


def test_client_satisfies_the_model_protocol(make_client: MakeClient):
    from agent.llm import Model

    assert isinstance(make_client(), Model)
