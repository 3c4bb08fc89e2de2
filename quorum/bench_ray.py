"""The Ray executor of `quorum bench`: one Ray task an instance, spread over the cluster.

A task solves (and grades) its instance on its node's own Docker engine, in its own event
loop, and returns the record; the driver writes bench.jsonl and preds.jsonl as records come
back, so resume is the local executor's. Worker nodes need the same Quorum installed and the
run folder, repositories and mirrors at the same paths (a shared filesystem, or one host).

API keys never travel in task arguments: a task gets each model's config, which names the
environment variable holding its key (`api_key_env`), and resolves it from its own
environment, i.e. the environment `ray start` (or the driver's `ray.init()`) ran in."""

from __future__ import annotations

import asyncio
import os
import socket
from collections.abc import Callable, Sequence
from pathlib import Path
from types import ModuleType

from agent.llm import Endpoint, ModelConfig
from envs.instances import Instance
from quorum.bench import (
    BenchOptions,
    Done,
    InstanceRecord,
    bench_run_id,
    capped,
    instance_builder,
    solve_and_grade,
)
from quorum.bench_budget import RunBudget, run_admitted
from sandbox.errors import QuorumError
from sandbox.provider import DockerProvider

# Ray's accounting only: an instance's containers take their CPUs from Docker. One CPU a
# task lets a node run as many instances at once as it has cores.
CPUS_PER_INSTANCE = 1
# How long an interrupted run waits for cancelled tasks to close their containers.
CANCEL_GRACE_S = 30
CANCEL_TICK_S = 0.5  # how often a task wakes to notice ray.cancel (see _tick)


class RayUnavailable(QuorumError):
    """Ray is not installed, or the cluster does not answer."""


class RayNodeNotReady(QuorumError):
    """A Ray node cannot run instances (no Docker engine, no API key, ...)."""


class RayTaskFailed(QuorumError):
    """A Ray task died or raised something that is not one of ours."""


class RayExecutor:
    """At most `workers` instances in flight across the cluster. The driver caps each
    instance (the run-wide budget) before submitting its task, so the task carries its cap.
    `solve_fn` is the task's function: `solve_on_node`, or a stand-in of its signature."""

    def __init__(self, options: BenchOptions,
                 solve_fn: Callable[[Instance, list[ModelConfig], BenchOptions],
                                    InstanceRecord] | None = None) -> None:  # fmt: skip
        # A worker starts in its own folder: every path it gets must be absolute.
        self.options = options.model_copy(update={
            "out": options.out.resolve(),
            "mirror_dir": options.mirror_dir.resolve() if options.mirror_dir else None,
        })  # fmt: skip
        self.solve_fn = solve_fn or solve_on_node

    async def run(
        self,
        todo: Sequence[Instance],
        endpoints: Sequence[Endpoint],
        done: Done,
        budget: RunBudget | None = None,
    ) -> None:
        if not todo:
            return
        budget = budget or RunBudget(None, self.options.solve.budget_usd)
        ray, owned = connect_ray(self.options.ray_address)
        task = ray.remote(self.solve_fn).options(
            num_cpus=CPUS_PER_INSTANCE, scheduling_strategy="SPREAD"
        )
        models = portable_models(endpoints)
        in_flight: set = set()

        async def one(inst: Instance, cap: float | None) -> None:
            ref = task.remote(inst, models, capped(self.options, cap))
            in_flight.add(ref)  # left there by a failure or Ctrl-C, to be cancelled
            rec = await _result(ray, ref, inst)
            in_flight.discard(ref)
            done(rec)

        try:
            await run_admitted(todo, self.options.workers, budget, one)
        finally:
            _cancel(ray, list(in_flight))
            if owned:
                ray.shutdown()


def connect_ray(address: str | None) -> tuple[ModuleType, bool]:
    """The ray module, connected; `owned` when this call connected (and so disconnects)."""
    if address:
        _use_token_auth_if_available()  # before the import: Ray reads its config then
    try:
        import ray
    except ImportError as exc:
        raise RayUnavailable(
            "the Ray executor needs Ray, which is not installed", hint="pip install 'quorum[ray]'"
        ) from exc
    if ray.is_initialized():  # a caller that connected itself keeps its connection
        return ray, False
    if address:
        _check_answers(address)
    local = {} if address else {"include_dashboard": False}
    try:
        ray.init(address=address, log_to_driver=False, logging_level="WARNING", **local)
    except ImportError as exc:  # ray:// addresses go through Ray Client, which needs grpcio
        raise RayUnavailable(
            f"cannot connect to Ray at {address}: {exc}",
            hint="pip install 'ray[client]==2.60.0' for ray:// addresses",
        ) from exc
    except (ConnectionError, RuntimeError, ValueError) as exc:
        raise RayUnavailable(
            f"cannot connect to Ray at {address or 'a local cluster'}: {exc}",
            hint="check the address (ray status on the head node prints it)",
        ) from exc
    return ray, True


def _use_token_auth_if_available() -> None:
    """Ray 2.60's `ray start` turns token authentication on and writes the token to
    ~/.ray/auth_token, but a driver only sends it when RAY_AUTH_MODE says so; without it
    the connection fails with a misleading "Failed to connect". An explicit setting wins."""
    has_token = (os.environ.get("RAY_AUTH_TOKEN") or os.environ.get("RAY_AUTH_TOKEN_PATH")
                 or (Path.home() / ".ray" / "auth_token").is_file())  # fmt: skip
    if has_token:
        os.environ.setdefault("RAY_AUTH_MODE", "token")


def _check_answers(address: str) -> None:
    """Ray retries an address that does not answer for minutes; a TCP connect tells now."""
    if address in ("auto", "local"):
        return
    host, _, port = address.removeprefix("ray://").rpartition(":")
    try:
        socket.create_connection((host, int(port)), timeout=5).close()
    except (OSError, ValueError) as exc:
        raise RayUnavailable(
            f"the Ray cluster at {address} does not answer: {exc}",
            hint="start it with `ray start --head` and pass the address it prints (HOST:PORT)",
        ) from exc


def portable_models(endpoints: Sequence[Endpoint]) -> list[ModelConfig]:
    """What a task needs to rebuild the endpoints: the config with its base URL fixed,
    naming the key's environment variable rather than carrying the key."""
    return [e.config.model_copy(update={"base_url": e.base_url}) for e in endpoints]


async def _result(ray: ModuleType, ref, inst: Instance) -> InstanceRecord:
    try:
        return await ref
    except ray.exceptions.RayTaskError as exc:
        if isinstance(exc.cause, QuorumError):
            raise exc.cause from None  # already says what to do; the Ray wrapper adds noise
        raise RayTaskFailed(f"{inst.instance_id}: the Ray task failed: {exc}") from exc
    except ray.exceptions.RayError as exc:  # worker or node died after Ray's retries
        raise RayTaskFailed(f"{inst.instance_id}: the Ray task failed: {exc}") from exc


def _cancel(ray: ModuleType, refs: list) -> None:
    """Interrupt unfinished tasks (KeyboardInterrupt in the worker, so its `finally` closes
    its containers) and give them a moment; the label sweep removes what is left."""
    if not refs:
        return
    for ref in refs:
        ray.cancel(ref)
    ray.wait(refs, num_returns=len(refs), timeout=CANCEL_GRACE_S)


def solve_on_node(
    inst: Instance, models: list[ModelConfig], options: BenchOptions
) -> InstanceRecord:
    """The Ray task: this node's Docker engine, this process's own event loop."""
    return asyncio.run(_solve_here(inst, models, options))


async def _solve_here(
    inst: Instance, models: list[ModelConfig], options: BenchOptions
) -> InstanceRecord:
    try:
        endpoints = [m.resolve(os.environ) for m in models]
        provider = DockerProvider.connect(run_id=bench_run_id(options))
    except QuorumError as exc:  # raised, not recorded: the instance is not at fault
        raise RayNodeNotReady(
            f"Ray node {socket.gethostname()}: {exc.args[0]}", hint=exc.hint
        ) from exc
    # The builder's locks are per process: worker processes sharing one cache folder would
    # race to create the same entries, so each gets its own.
    cache = options.out / "cache" / f"ray-{socket.gethostname()}-{os.getpid()}"
    ticking = asyncio.create_task(_tick())
    try:
        return await solve_and_grade(
            inst, endpoints, options, instance_builder(provider, options, cache_dir=cache)
        )
    finally:
        ticking.cancel()
        provider.close_all()


async def _tick() -> None:
    """ray.cancel's KeyboardInterrupt is raised only once the main thread runs Python code;
    a loop idle in epoll (waiting on a model's answer) would see it minutes late."""
    while True:
        await asyncio.sleep(CANCEL_TICK_S)
