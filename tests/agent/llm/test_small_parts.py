"""Config resolution, prices, retry timing, logprob scoring and the prompt token bound."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from agent.llm import (
    BUILTIN_PRICES,
    AuthError,
    BadResponse,
    ModelConfig,
    Price,
    RetryPolicy,
    TokenLogprob,
    TopLogprob,
    UnknownPrice,
    price_for,
    prompt_token_bound,
    yes_no_score,
)
from agent.llm.prices import normalise_model_name
from agent.llm.retry import is_retryable_status, retry_after_s


# -- config -------------------------------------------------------------------------------
def test_base_url_from_config_then_env_then_default():
    env = {"OPENAI_API_KEY": "k", "OPENAI_BASE_URL": "http://env:8000/v1/"}
    assert ModelConfig(name="gpt-4o").resolve(env).base_url == "http://env:8000/v1"
    explicit = ModelConfig(name="gpt-4o", base_url="http://cfg/v1").resolve(env)
    assert explicit.base_url == "http://cfg/v1"
    assert ModelConfig(name="gpt-4o").resolve({"OPENAI_API_KEY": "k"}).base_url == (
        "https://api.openai.com/v1")


def test_key_comes_from_the_named_variable_and_stays_secret():
    ep = ModelConfig(name="deepseek-chat", api_key_env="DEEPSEEK_API_KEY").resolve(
        {"DEEPSEEK_API_KEY": "sk-secret-123", "OPENAI_API_KEY": "other"})
    assert ep.api_key.get_secret_value() == "sk-secret-123"
    assert "sk-secret-123" not in repr(ep) and "sk-secret-123" not in str(ep.model_dump())


def test_local_endpoint_needs_no_key():
    ep = ModelConfig(name="qwen", base_url="http://127.0.0.1:8080/v1", api_key_env=None,
                     free=True).resolve({})
    assert ep.api_key.get_secret_value() and ep.pricing.price.output == 0


def test_empty_key_counts_as_missing():
    with pytest.raises(AuthError, match=r"\$OPENAI_API_KEY is not set"):
        ModelConfig(name="gpt-4o").resolve({"OPENAI_API_KEY": "  "})


def test_config_is_strict():
    with pytest.raises(ValidationError, match="extra"):
        ModelConfig(name="gpt-4o", temprature=0.2)
    with pytest.raises(ValidationError, match="at most one of prices, free, gpu_hour_usd"):
        ModelConfig(name="x", free=True, gpu_hour_usd=2.0)


def test_unknown_model_fails_at_resolution_not_mid_run():
    with pytest.raises(UnknownPrice, match="mystery"):
        ModelConfig(name="mystery").resolve({"OPENAI_API_KEY": "k"})
    priced = ModelConfig(name="mystery", prices=Price(input=1, output=2)).resolve(
        {"OPENAI_API_KEY": "k"})
    assert priced.pricing.price.cached == 1  # no cache discount unless stated
    gpu = ModelConfig(name="mystery", gpu_hour_usd=2.5).resolve({"OPENAI_API_KEY": "k"})
    assert gpu.pricing.gpu_hour_usd == 2.5


# -- prices -------------------------------------------------------------------------------
@pytest.mark.parametrize("name,family", [
    ("gpt-4o-2024-08-06", "gpt-4o"), ("openai/gpt-4o-mini", "gpt-4o-mini"),
    ("claude-3-5-sonnet-20241022", "claude-3-5-sonnet"),
    ("claude-3-7-sonnet-latest", "claude-3-7-sonnet"),
    ("Qwen/Qwen2.5-Coder-32B-Instruct", "qwen2.5-coder-32b-instruct"),
])
def test_names_normalise_to_their_family(name, family):
    assert normalise_model_name(name) == family
    assert price_for(name) == BUILTIN_PRICES[family]


def test_no_prefix_matching():
    assert price_for("gpt-4o-mini").input < price_for("gpt-4o").input
    with pytest.raises(UnknownPrice):
        price_for("gpt-4o-super")


def test_override_and_free():
    mine = Price(input=9, output=9)
    assert price_for("gpt-4o", override=mine) is mine
    assert price_for("anything", free=True).input == 0


def test_builtin_table_is_sane():
    for name, p in BUILTIN_PRICES.items():
        assert 0 < p.input <= p.output, name
        assert p.cached <= p.input, name


# -- retry --------------------------------------------------------------------------------
def test_retryable_statuses():
    assert all(is_retryable_status(s) for s in (408, 409, 429, 500, 502, 503, 504))
    assert not any(is_retryable_status(s) for s in (400, 401, 403, 404, 413, 422))


def test_retry_after_forms():
    assert retry_after_s({"retry-after": "2"}) == 2
    assert retry_after_s({"retry-after": "0.5"}) == 0.5
    assert retry_after_s({"retry-after-ms": "250", "retry-after": "9"}) == 0.25
    later = datetime.now(UTC) + timedelta(seconds=30)
    assert 25 < retry_after_s({"retry-after": format_datetime(later, usegmt=True)}) <= 30
    assert retry_after_s({"retry-after": "soon"}) is None
    assert retry_after_s({}) is None


def test_backoff_grows_with_jitter_and_is_capped():
    policy = RetryPolicy(base_s=1, max_backoff_s=8, max_retry_after_s=60)
    rng = random.Random(0)
    for attempt, ceiling in [(1, 1), (2, 2), (3, 4), (4, 8), (9, 8)]:
        waits = {policy.backoff(attempt, rng) for _ in range(50)}
        assert all(ceiling / 2 <= w <= ceiling for w in waits)
        assert len(waits) > 1  # jittered
    assert policy.wait(1, {"retry-after": "5"}, rng) == 5
    assert policy.wait(1, {"retry-after": "500"}, rng) == 60


# -- logprobs -----------------------------------------------------------------------------
def lp(token: str, top: dict[str, float]) -> TokenLogprob:
    return TokenLogprob(token=token, logprob=math.log(top.get(token, 1e-9)),
                        top=[TopLogprob(token=t, logprob=math.log(p)) for t, p in top.items()])


def test_yes_no_score_sums_variants():
    pos = lp("YES", {"YES": 0.5, " Yes": 0.1, "NO": 0.2, "no": 0.1, "Maybe": 0.1})
    s = yes_no_score([pos])
    assert s.p_yes == pytest.approx(0.6) and s.p_no == pytest.approx(0.3)
    assert s.score == pytest.approx(0.6 / 0.9)


def test_yes_no_score_at_a_position_and_with_one_side_missing():
    first = lp("The", {"The": 0.9})
    second = lp("NO", {"NO": 0.7, "Maybe": 0.3})
    assert yes_no_score([first, second], position=1).score == 0.0


def test_yes_no_score_errors():
    with pytest.raises(BadResponse, match="no logprobs"):
        yes_no_score(None)
    with pytest.raises(BadResponse, match="neither 'YES' nor 'NO'"):
        yes_no_score([lp("Maybe", {"Maybe": 1.0})])
    with pytest.raises(BadResponse, match="position 3"):
        yes_no_score([lp("YES", {"YES": 1.0})], position=3)


# -- prompt token bound -----------------------------------------------------------------------
@given(st.lists(st.text(), min_size=1, max_size=5))
def test_bound_covers_every_byte(texts):
    msgs = [{"role": "user", "content": t} for t in texts]
    assert prompt_token_bound(msgs) >= sum(len(t.encode()) for t in texts) + len(texts)


def test_bound_counts_tools_and_tool_calls():
    msgs = [{"role": "assistant", "content": None, "tool_calls": [
        {"id": "1", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]}]
    tools = [{"type": "function", "function": {"name": "bash", "parameters": {}}}]
    assert prompt_token_bound(msgs, tools) > prompt_token_bound(msgs) + 500
    assert prompt_token_bound(msgs) > 16 + 16 + 50
