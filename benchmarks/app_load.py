"""The App's webhook under a burst, with a `kill -9` and a restart in the middle. Prints
name=value lines.

    .venv/bin/python benchmarks/app_load.py [--deliveries 500] [--seconds 10] [--clients 8]

The real server (uvicorn in a subprocess, `tests/helpers/app_process.py`) runs with its
workers stubbed by `counting_handler` - chosen by import path in that test helper, never
reachable from `quorum app`. Deliveries are signed `issues` labelled payloads spread over
the burst, about 10 % of them sent again with the same X-GitHub-Delivery (GitHub's
redeliveries). Halfway the server is killed with SIGKILL and started again on the same
database; a delivery that meets a connection error is sent again until answered, as GitHub
redelivers.

webhook_p99_ms: p99 latency of the answered webhooks (target <= 100).
healthz_p99_ms: p99 of GET /healthz probed during the same burst (the baseline).
webhook_over_healthz_p99: the ratio of the two - what recording a job costs over serving.
duplicate_jobs: jobs beyond one per delivery id, plus jobs the handler ran more than once
  other than the one resumed run a kill allows (must be 0).
lost_jobs: deliveries answered 202 with a job that has no job, or whose job did not end
  done, after the restart (must be 0).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # tests.helpers

import httpx
from pydantic import BaseModel

from quorum.app.store import JobStore
from tests.helpers.app_process import AppProcess
from tests.helpers.webhooks import issue_labeled, signed_delivery

SECRET = "load-secret"
HANDLER = "tests.helpers.app_process:counting_handler"
RETRY_S = 0.05  # between attempts of a delivery that met a connection error
GIVE_UP_S = 60.0
PROBE_S = 0.02
DRAIN_S = 60.0


class LoadResult(BaseModel):
    deliveries: int  # sent, duplicates included
    unique: int
    answered: int
    retried: int  # attempts that met a connection error (the kill)
    kills: int
    webhook_p99_ms: float
    healthz_p99_ms: float
    webhook_over_healthz_p99: float
    duplicate_jobs: int
    lost_jobs: int
    resumed_runs: int
    seconds: float


def p99(samples: list[float]) -> float:
    if not samples:
        return float("nan")
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]


def run_burst(workdir: Path, *, deliveries: int = 500, seconds: float = 10.0,
              clients: int = 8, duplicate_ratio: float = 0.1, kill: bool = True,
              seed: int = 7) -> LoadResult:  # fmt: skip
    rng = random.Random(seed)
    calls = workdir / "calls.jsonl"
    server = AppProcess(workdir / "app.db", SECRET, handler=HANDLER, workers=4,
                        per_installation=2, env={"QUORUM_TEST_CALLS": str(calls)})  # fmt: skip
    unique = round(deliveries / (1 + duplicate_ratio))
    plan: list[tuple[str, int]] = [(f"delivery-{i:05d}", i + 1) for i in range(unique)]
    for _ in range(deliveries - unique):  # a redelivery of one already planned, later on
        at = rng.randrange(1, len(plan) + 1)
        plan.insert(at, plan[rng.randrange(at)])
    bodies = {d: signed_delivery(SECRET, "issues", issue_labeled(
        number=n, installation_id=1 + n % 7), d) for d, n in set(plan)}  # fmt: skip

    lock = threading.Lock()
    webhook_ms: list[float] = []
    healthz_ms: list[float] = []
    answered_job: dict[str, int] = {}  # delivery id -> the job a 202 named
    counters = Counter[str]()
    next_index = iter(range(len(plan)))
    done = threading.Event()

    server.start()
    start = time.monotonic()
    gap = seconds / len(plan)

    def client() -> None:
        with httpx.Client(timeout=10) as http:
            for index in iter(lambda: next(next_index, None), None):
                delay = start + index * gap - time.monotonic()
                if delay > 0:
                    time.sleep(delay)
                delivery_id, _ = plan[index]
                headers, body = bodies[delivery_id]
                give_up = time.monotonic() + GIVE_UP_S
                while True:
                    began = time.perf_counter()
                    try:
                        reply = http.post(f"{server.url}/webhooks", content=body, headers=headers)
                    except httpx.TransportError:
                        with lock:
                            counters["retried"] += 1
                        if time.monotonic() > give_up:
                            raise
                        time.sleep(RETRY_S)
                        continue
                    elapsed = (time.perf_counter() - began) * 1000
                    break
                with lock:
                    webhook_ms.append(elapsed)
                    if reply.status_code == 202 and "job" in reply.json():
                        answered_job[delivery_id] = reply.json()["job"]
                        counters["answered"] += 1
                    else:
                        counters[f"status_{reply.status_code}"] += 1

    def prober() -> None:
        with httpx.Client(timeout=10) as http:
            while not done.is_set():
                began = time.perf_counter()
                try:
                    http.get(f"{server.url}/healthz")
                except httpx.TransportError:
                    time.sleep(RETRY_S)
                    continue
                with lock:
                    healthz_ms.append((time.perf_counter() - began) * 1000)
                time.sleep(PROBE_S)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    probe = threading.Thread(target=prober)
    for thread in [*threads, probe]:
        thread.start()
    kills = 0
    if kill:
        time.sleep(seconds / 2)
        server.kill9()
        kills += 1
        server.start()
    for thread in threads:
        thread.join()
    done.set()
    probe.join()
    elapsed_s = time.monotonic() - start

    store = JobStore(server.db)
    deadline = time.monotonic() + DRAIN_S
    while (store.jobs("queued") or store.jobs("running")) and time.monotonic() < deadline:
        time.sleep(0.1)
    server.stop()

    jobs = store.jobs()
    by_delivery = Counter(job.delivery_id for job in jobs)
    runs = [json.loads(line) for line in calls.read_text().splitlines() if line]
    fresh_runs = Counter(run["job"] for run in runs if not run["resumed"])
    resumed_runs = sum(run["resumed"] for run in runs)
    duplicate_jobs = (sum(n - 1 for n in by_delivery.values())
                      + sum(n - 1 for n in fresh_runs.values())
                      + sum(max(0, n - 1) for n in Counter(
                          r["job"] for r in runs if r["resumed"]).values()))  # fmt: skip
    done_ids = {job.delivery_id for job in jobs if job.state == "done"}
    job_of = {job.delivery_id: job.id for job in jobs}
    lost = [d for d, job_id in answered_job.items()
            if d not in done_ids or job_of.get(d) != job_id]  # fmt: skip
    lost += [d for d, _ in set(plan) if d not in job_of]  # every planned delivery triggers
    webhook_p99, healthz_p99 = p99(webhook_ms), p99(healthz_ms)
    return LoadResult(
        deliveries=len(plan), unique=len(set(plan)), answered=counters["answered"],
        retried=counters["retried"], kills=kills, webhook_p99_ms=round(webhook_p99, 2),
        healthz_p99_ms=round(healthz_p99, 2),
        webhook_over_healthz_p99=round(webhook_p99 / healthz_p99, 2),
        duplicate_jobs=duplicate_jobs, lost_jobs=len(set(lost)), resumed_runs=resumed_runs,
        seconds=round(elapsed_s, 2),
    )  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deliveries", type=int, default=500)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--no-kill", action="store_true", help="no kill -9 in the middle")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="quorum-app-load-") as workdir:
        result = run_burst(Path(workdir), deliveries=args.deliveries, seconds=args.seconds,
                           clients=args.clients, kill=not args.no_kill)  # fmt: skip
    for name, value in result.model_dump().items():
        print(f"{name}={value}")


if __name__ == "__main__":
    main()
