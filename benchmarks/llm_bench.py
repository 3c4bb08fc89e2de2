"""Model-layer benchmarks. Prints name=value lines.

    .venv/bin/python benchmarks/llm_bench.py [--calls 1000] [--ledger-calls 10000]

client_overhead_ratio: median latency of LLMClient.complete over the median of a bare
`AsyncOpenAI.chat.completions.create` to the same stand-in server, same process, calls
interleaved so machine noise hits both alike. Target <= 1.10.

ledger_overspend_usd: over N simulated calls from concurrent threads (random prompt and
output sizes, servers using part of their reservation, failed and lost calls), how far spend
ended above the cap. Must be 0.
ledger_utilization: spent / cap at the end, when work remained (calls were refused).
Target >= 0.95.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers

from openai import AsyncOpenAI

from agent.llm import (
    BudgetCaps,
    BudgetExhausted,
    Ledger,
    LLMClient,
    ModelConfig,
    ModelPricing,
    Price,
    Usage,
)
from tests.helpers.openai_standin import OpenAIStandIn, Reply

MESSAGES = [
    {"role": "system", "content": "You are a careful software engineer. " * 20},
    {"role": "user", "content": "Fix the bug in parse_date when the year has two digits. " * 10},
]


async def client_overhead(calls: int) -> dict[str, float]:
    with OpenAIStandIn(api_key="sk-bench") as server:
        server.default = Reply.text("Done.", prompt_tokens=300, completion_tokens=2)
        bare = AsyncOpenAI(base_url=server.base_url, api_key="sk-bench", max_retries=0)
        endpoint = ModelConfig(name="gpt-4o-mini", base_url=server.base_url).resolve(
            {"OPENAI_API_KEY": "sk-bench"})
        ours = LLMClient(endpoint, Ledger(BudgetCaps(run_usd=1_000.0)))

        async def bare_call() -> float:
            t = time.perf_counter()
            await bare.chat.completions.create(model="gpt-4o-mini", messages=MESSAGES,
                                               max_tokens=256)
            return time.perf_counter() - t

        async def our_call() -> float:
            t = time.perf_counter()
            await ours.complete(MESSAGES, caller="agent", trajectory_id="t1", max_tokens=256)
            return time.perf_counter() - t

        for _ in range(30):  # warm both connection pools and code paths
            await bare_call()
            await our_call()
        bare_s, our_s = [], []
        for i in range(calls):
            if i % 2:
                bare_s.append(await bare_call())
                our_s.append(await our_call())
            else:
                our_s.append(await our_call())
                bare_s.append(await bare_call())
        await bare.close()
        await ours.aclose()
    b, o = statistics.median(bare_s), statistics.median(our_s)
    # Paired differences are robust to load drifting during the run (a shared machine).
    paired = statistics.median(x - y for x, y in zip(our_s, bare_s, strict=True))
    return {"client_overhead_ratio": o / b, "client_median_ms": o * 1e3,
            "bare_sdk_median_ms": b * 1e3, "client_overhead_paired_us": paired * 1e6}


def ledger_simulation(n_calls: int, threads: int = 16, seed: int = 7) -> dict[str, float]:
    rng = random.Random(seed)
    price = ModelPricing(price=Price(input=2.5, cached_input=1.25, output=10.0))
    # Expected demand is ~n * (4k x $2.5/M + 0.5k x $10/M) ~ n * $0.015; cap half of it.
    cap = round(n_calls * 0.0075, 2)
    ledger = Ledger(BudgetCaps(run_usd=cap, trajectory_usd=cap / 20, min_output_tokens=16),
                    prices={"gpt-4o": price})
    work = [(rng.randint(200, 8_000), rng.choice([256, 512, 1024, 2048]),
             rng.random(), f"t{rng.randrange(40)}") for _ in range(n_calls)]
    lock = threading.Lock()
    stats = {"refused": 0, "done": 0, "peak": 0.0}

    def worker(wid: int) -> None:
        r = random.Random(seed * 1000 + wid)
        while True:
            with lock:
                if not work:
                    return
                prompt, max_tokens, fate, tid = work.pop()
            try:
                res = ledger.reserve("agent", "gpt-4o", tid, prompt, max_tokens, wait=True)
            except BudgetExhausted:
                with lock:
                    stats["refused"] += 1
                continue
            if r.random() < 0.2:
                time.sleep(0)  # yield: let other threads interleave mid-call
            if fate < 0.04:
                ledger.release(res)  # a 5xx: nothing billed
            elif fate < 0.05:
                ledger.release(res, billed=True)  # a dropped connection: worst case billed
            else:
                # The prompt bound over-counts ~3x; outputs use part of max_tokens.
                p = max(1, int(res.prompt_tokens * r.uniform(0.25, 0.4)))
                usage = Usage(prompt_tokens=p, cached_tokens=int(p * r.random() * 0.5),
                              completion_tokens=int(res.max_tokens * r.random()))
                ledger.settle(res, usage)
            with lock:
                stats["done"] += 1

    pool = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
    start = time.perf_counter()
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    report = ledger.report()
    spent = report.total.usd
    traj_over = sum(max(0.0, s.usd - cap / 20) for s in report.by_trajectory.values())
    work_remained = stats["refused"] > 0
    return {
        "ledger_calls": n_calls,
        "ledger_overspend_usd": max(0.0, spent - cap) + traj_over,
        "ledger_utilization": spent / cap if work_remained else float("nan"),
        "ledger_refused_calls": stats["refused"],
        "ledger_overruns": report.overruns,
        "ledger_ops_per_s": n_calls / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--ledger-calls", type=int, default=10_000)
    args = parser.parse_args()
    results = asyncio.run(client_overhead(args.calls))
    results.update(ledger_simulation(args.ledger_calls))
    for name, value in results.items():
        print(f"{name}={value:.6g}" if isinstance(value, float) else f"{name}={value}")


if __name__ == "__main__":
    main()
