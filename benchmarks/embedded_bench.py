"""Embedded model speed on this machine. Prints name=value lines.

    .venv/bin/python benchmarks/embedded_bench.py [--cache-dir DIR] [--n-ctx 8192]

embedded_prompt_tok_s: prompt tokens over the wall time of a 1-token completion on a prompt
    the server has not seen (prefill dominates; includes the HTTP round trip).
embedded_gen_tok_s: streamed tokens after the first over the time between first and last.
embedded_cached_prefix_share: 4 verifier-shaped requests share a long prefix (system prompt
    + issue first, then a different candidate patch each); the share of their prompt tokens
    the server did not evaluate again, read from its `prefix-match hit` log lines.

With --batch-threads B it then compares prompt evaluation with B threads (generation keeps
today's count) against today's setting, in alternating rounds of one server each
(--rounds), from the servers' own timings (agent.llm.embedded_perf):
prompt_tok_s_default, prompt_tok_s_batch_B and prompt_ratio_batch_vs_default.
"""

from __future__ import annotations

import argparse
import os
import re
import tempfile
import time
import uuid
from pathlib import Path

from openai import OpenAI

from agent.llm.embedded import EmbeddedServer, default_cache_dir, ensure_model
from agent.llm.embedded_perf import read_model_time

SYSTEM = ("You are a senior Python reviewer. You read a GitHub issue and a candidate patch "
          "and answer YES if the patch resolves the issue without breaking behaviour, else NO.")
ISSUE_LINES = 12  # about 650 prompt tokens: a short issue, sized for a 2-core machine
_HIT = re.compile(r"Llama\.generate: (\d+) prefix-match hit")


def _issue(seed: str) -> str:
    body = "\n".join(
        f"- step {i}: call `parse_config(path)` with a file whose section [{seed}{i}] holds "
        f"key_{i} = value_{i}; expected the dict to contain key_{i}, got KeyError instead."
        for i in range(ISSUE_LINES)
    )
    return f"Issue {seed}: parse_config drops keys in nested sections.\n\n{body}\n"


def _patch(k: int) -> str:
    return (f"--- a/conf.py\n+++ b/conf.py\n@@ -10,{k} +10,{k + 1} @@\n"
            f"-    for line in lines[{k}:]:\n+    for line in lines:\n"
            f"+        section = section or 'candidate_{k}'\n")


def _verifier_messages(issue: str, patch: str) -> list[dict[str, str]]:
    return [{"role": "system", "content": SYSTEM},
            {"role": "user", "content": f"{issue}\nCandidate patch:\n{patch}\nYES or NO?"}]


def measure(server: EmbeddedServer, sdk: OpenAI) -> dict[str, float]:
    model = server.model_name

    # prefill: a prompt the server has never seen, one output token
    messages = _verifier_messages(_issue(uuid.uuid4().hex[:8]), _patch(0))
    started = time.perf_counter()
    reply = sdk.chat.completions.create(model=model, messages=messages, max_tokens=1,
                                        temperature=0.0)
    prefill_s = time.perf_counter() - started
    assert reply.usage is not None
    prompt_tok_s = reply.usage.prompt_tokens / prefill_s

    # generation: stream a long answer, time from the first token to the last
    stamps: list[float] = []
    stream = sdk.chat.completions.create(
        model=model, max_tokens=64, temperature=0.0, stream=True,
        messages=[{"role": "user", "content": f"[{uuid.uuid4().hex[:6]}] Write a Python "
                   "class for a bank account with deposit, withdraw and a docstring each."}],
    )
    for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            stamps.append(time.perf_counter())
    gen_tok_s = (len(stamps) - 1) / (stamps[-1] - stamps[0]) if len(stamps) > 1 else 0.0

    # prefix sharing: 4 candidates for one issue, system + issue first
    issue = _issue(uuid.uuid4().hex[:8])
    log_start = len(server.log_path.read_text(errors="replace"))
    prompt_tokens = 0
    for k in range(1, 5):
        reply = sdk.chat.completions.create(model=model, max_tokens=1, temperature=0.0,
                                            messages=_verifier_messages(issue, _patch(k)))
        assert reply.usage is not None
        prompt_tokens += reply.usage.prompt_tokens
    log = server.log_path.read_text(errors="replace")[log_start:]
    reused = sum(int(n) for n in _HIT.findall(log))
    return {
        "embedded_prompt_tok_s": round(prompt_tok_s, 1),
        "embedded_gen_tok_s": round(gen_tok_s, 1),
        "embedded_cached_prefix_share": round(reused / prompt_tokens, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cache-dir", type=Path, default=default_cache_dir())
    parser.add_argument("--n-ctx", type=int, default=8192)
    parser.add_argument("--threads", type=int, default=None, help="default: all CPUs but one")
    parser.add_argument("--batch-threads", type=int, default=None,
                        help="also compare prompt evaluation with this many threads")
    parser.add_argument("--rounds", type=int, default=2, help="alternating rounds (with -b)")
    args = parser.parse_args()
    model = ensure_model(args.cache_dir)
    if args.batch_threads:
        compare_batch_threads(model, args.n_ctx, args.threads, args.batch_threads, args.rounds)
        return
    with EmbeddedServer(model, n_ctx=args.n_ctx, n_threads=args.threads) as server:
        sdk = OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0, timeout=600)
        # warm-up: page the weights in, so the first figure is not a disk read
        sdk.chat.completions.create(model=server.model_name, max_tokens=1,
                                    messages=[{"role": "user", "content": "hi"}])
        for name, value in measure(server, sdk).items():
            print(f"{name}={value}")
        # context for the figures: the model shares the CPUs with whatever else runs
        print(f"embedded_threads={server.n_threads}")
        print(f"load_avg_1m={os.getloadavg()[0]:.2f}")


def compare_batch_threads(model: Path, n_ctx: int, threads: int | None, batch: int,
                          rounds: int) -> None:
    speeds: dict[str, list[float]] = {"default": [], f"batch_{batch}": []}
    for _ in range(rounds):
        for name, extra in (("default", []), (f"batch_{batch}", ["--n_threads_batch", str(batch)])):
            with (tempfile.TemporaryDirectory() as tmp,
                  EmbeddedServer(model, n_ctx=n_ctx, n_threads=threads, logits_all=False,
                                 prompt_cache=False, log_path=Path(tmp) / "server.log",
                                 extra_args=extra) as server):  # fmt: skip
                sdk = OpenAI(base_url=server.base_url, api_key="not-needed", max_retries=0,
                             timeout=900)
                sdk.chat.completions.create(  # a prompt never seen: all of it is evaluated
                    model=server.model_name, max_tokens=1, temperature=0.0,
                    messages=_verifier_messages(_issue(uuid.uuid4().hex[:8]), _patch(0)))
                spent = read_model_time(server.log_path)
                assert spent is not None, "the server logged no timings"
                speeds[name].append(spent.prompt_tokens_evaluated / spent.prompt_s)
    mean = {name: sum(v) / len(v) for name, v in speeds.items()}
    for name, value in mean.items():
        print(f"prompt_tok_s_{name}={value:.1f}")
    print(f"prompt_ratio_batch_vs_default={mean[f'batch_{batch}'] / mean['default']:.2f}")
    print(f"load_avg_1m={os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
