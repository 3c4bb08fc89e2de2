"""How close parallel rollouts come to the ideal: 16 trajectories x 20 steps against the
stand-in server with 200 ms latency per call, each in a real Docker sandbox. Prints
name=value lines.

    .venv/bin/python benchmarks/rollout_bench.py

orchestration_ratio_cC = wall time / ideal, where the ideal is the model latency alone:
ceil(16 / C) waves x 20 steps x 200 ms. Everything else (sandbox start, tool execution,
candidate evaluation, sandbox removal, the ledger, the client) is overhead. The stand-in
server runs in a process of its own, as a real model server would: in-process, its threads
would compete with the orchestrator for the GIL.

docker_start16_s is the baseline measured in the same run: 16 containers started at once
with docker-py and nothing else. It bounds the c16 ratio from below on this machine:
orchestration_floor_c16 = (ideal + docker_start16_s - one call's latency) / ideal, since
only the first model call can overlap a sandbox's start.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the stand-in lives in tests/

from agent.llm import BudgetCaps, Ledger, LLMClient, ModelConfig
from agent.rollout import RolloutConfig, run_rollouts
from agent.store import RunStore
from agent.tools import ToolConfig, default_tools
from envs.sources.local import task_from_local
from quorum.sandboxes import sandbox_factory
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.sandbox.conftest import make_repo

TRAJECTORIES, STEPS, LATENCY_S = 16, 20, 0.2


def _script(i: int) -> list[Reply]:
    steps = [
        Reply.tool_call("bash", {"command": f"echo step {k} >> log_{i}.txt"},
                        call_id=f"c{k}", delay_s=LATENCY_S)
        for k in range(STEPS - 1)
    ]  # fmt: skip
    return [*steps, Reply.tool_call("submit", {}, call_id="end", delay_s=LATENCY_S)]


def _serve(conn) -> None:
    """The stand-in, scripted for every trajectory, in a child process until told to stop."""
    with OpenAIStandIn() as server:
        for i in range(TRAJECTORIES):
            server.script_for(f"m{i}", *_script(i))
        conn.send(server.base_url)
        conn.recv()


class _StandInProcess:
    def __enter__(self) -> str:
        self._conn, child = multiprocessing.get_context("spawn").Pipe()
        self._proc = multiprocessing.get_context("spawn").Process(target=_serve, args=(child,))
        self._proc.start()
        return self._conn.recv()

    def __exit__(self, *exc: object) -> None:
        self._conn.send("stop")
        self._proc.join(10)


def _docker_start_baseline(image: str, count: int = TRAJECTORIES) -> float:
    import concurrent.futures

    import docker

    client = docker.from_env(max_pool_size=count * 2)

    def start(_: int):
        return client.containers.run(image, ["sleep", "infinity"], detach=True, init=True,
                                     network_mode="none")  # fmt: skip

    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        containers = list(pool.map(start, range(count)))
    wall = time.perf_counter() - started
    for container in containers:
        container.remove(force=True)
    return wall


async def _run(concurrency: int, tmp: Path) -> float:
    repo = make_repo(tmp / f"repo-c{concurrency}")
    task = task_from_local(repo, issue="benchmark")
    with (
        _StandInProcess() as base_url,
        sandbox_factory(task, "docker", run_id="rollout-bench") as start,
    ):
        ledger = Ledger(BudgetCaps())
        clients = [
            LLMClient(
                ModelConfig(
                    name=f"m{i}", base_url=base_url, api_key_env=None, free=True
                ).resolve({}),
                ledger,
            )
            for i in range(TRAJECTORIES)
        ]

        async def no_ranking(cands):
            return cands

        config = RolloutConfig(n=TRAJECTORIES, concurrency=concurrency)
        config.limits.max_steps = STEPS
        started = time.perf_counter()
        candidates = await run_rollouts(
            task, clients=clients, tools=default_tools(ToolConfig()), start_sandbox=start,
            store=RunStore(tmp / f"run-c{concurrency}"), config=config, rank_round=no_ranking,
        )  # fmt: skip
        wall = time.perf_counter() - started
        for client in clients:
            await client.aclose()
    submitted = sum(c.exit_status == "submitted" for c in candidates)
    assert submitted == TRAJECTORIES, f"only {submitted} trajectories submitted"
    return wall


def main() -> None:
    from sandbox.images import ensure_base_image
    from sandbox.provider import DockerProvider

    with tempfile.TemporaryDirectory() as tmp:
        for concurrency in (16, 4):
            wall = asyncio.run(_run(concurrency, Path(tmp)))
            ideal = math.ceil(TRAJECTORIES / concurrency) * STEPS * LATENCY_S
            print(f"rollout_wall_c{concurrency}_s={wall:.2f}")
            print(f"rollout_ideal_c{concurrency}_s={ideal:.2f}")
            print(f"orchestration_ratio_c{concurrency}={wall / ideal:.3f}")
    provider = DockerProvider.connect(run_id="rollout-bench")
    image = ensure_base_image(provider.client, "bookworm")
    baseline = _docker_start_baseline(image)
    ideal16 = STEPS * LATENCY_S
    print(f"docker_start16_s={baseline:.2f}")
    print(f"orchestration_floor_c16={(ideal16 + baseline - LATENCY_S) / ideal16:.3f}")


if __name__ == "__main__":
    main()
