"""The embedded server's timings, read from the lines llama.cpp prints per request."""

from __future__ import annotations

from pathlib import Path

from agent.llm.embedded_perf import model_time, read_model_time

# two requests as the server logged them (the second reused all but 7 prompt tokens)
LOG = """llama_perf_context_print:        load time =   96451.35 ms
llama_perf_context_print: prompt eval time =   96449.68 ms /  1592 tokens (   60.58 ms per token,    16.51 tokens per second)
llama_perf_context_print:        eval time =     380.69 ms /     2 runs   (  190.34 ms per token,     5.25 tokens per second)
llama_perf_context_print:       total time =   96838.17 ms /  1594 tokens
INFO:     127.0.0.1:40000 - "POST /v1/chat/completions HTTP/1.1" 200 OK
Llama.generate: 1585 prefix-match hit, remaining 7 prompt tokens to eval
llama_perf_context_print:        load time =   96451.35 ms
llama_perf_context_print: prompt eval time =     869.05 ms /     7 tokens (  124.15 ms per token,     8.05 tokens per second)
llama_perf_context_print:        eval time =     605.70 ms /     3 runs   (  201.90 ms per token,     4.95 tokens per second)
llama_perf_context_print:       total time =    1483.11 ms /    10 tokens
"""  # noqa: E501


def test_the_split_of_prompt_and_generation() -> None:
    found = model_time(LOG)
    assert found.requests == 2
    assert found.prompt_tokens_evaluated == 1599 and found.generated_tokens == 5
    assert round(found.prompt_s, 2) == round(96.44968 + 0.86905, 2)
    assert round(found.generation_s, 3) == round(0.38069 + 0.6057, 3)
    assert round(found.busy_s, 2) == round(found.prompt_s + found.generation_s, 2)


def test_no_log_or_no_request_is_none(tmp_path: Path) -> None:
    assert read_model_time(tmp_path / "absent.log") is None
    (tmp_path / "start.log").write_text("llama_model_loader: loaded meta data\n")
    assert read_model_time(tmp_path / "start.log") is None
    (tmp_path / "two.log").write_text(LOG)
    assert read_model_time(tmp_path / "two.log").requests == 2
