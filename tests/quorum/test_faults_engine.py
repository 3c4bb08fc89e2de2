"""The Docker engine going away in the middle of `quorum solve`, as in a restart: the run
fails with a message that says so and how to go on, and the same command again (the engine
back) resumes: the finished trajectory is kept, the interrupted one is redone.

The shared engine is not restarted (other tests use it): the child reaches it through a
proxy socket of the test's own, which the test cuts, while it stops the child's containers
the way a restart does."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from envs.microtasks import materialize_tasks
from quorum.bench import BenchOptions, solve_and_grade
from sandbox.errors import EngineUnavailable, SandboxError
from tests.helpers.faults import (
    ENV,
    EngineProxy,
    Router,
    ids,
    leftovers,
    models_file,
    run_quorum,
    start_quorum,
    wait_until,
)
from tests.helpers.openai_standin import OpenAIStandIn
from tests.quorum.test_bench import WINDOWS


class _EngineGone:
    """An environment builder whose engine stops answering (or fails otherwise)."""

    def __init__(self, error: Exception) -> None:
        self.error = error

    def solve_task(self, *args: object, **kwargs: object) -> None:
        raise self.error


@pytest.mark.parametrize("gone", [True, False], ids=["engine-gone", "instance-error"])
def test_bench_records_an_instance_error_but_stops_when_the_engine_is_gone(
    tmp_path: Path, gone: bool
) -> None:
    [inst] = materialize_tasks(tmp_path / "tasks", ids=["micro__windows-1"])
    options = BenchOptions(out=tmp_path / "bench")
    error = EngineUnavailable("exec in sandbox: refused") if gone else SandboxError("no image")
    run = solve_and_grade(inst, [], options, _EngineGone(error))  # type: ignore[arg-type]
    if gone:  # no "error" record, which would mark the instance finished: a rerun redoes it
        with pytest.raises(EngineUnavailable):
            asyncio.run(run)
    else:
        record = asyncio.run(run)
        assert (record.status, record.error) == ("error", "no image")


@pytest.fixture
def proxy() -> Iterator[EngineProxy]:
    host = os.environ.get("DOCKER_HOST", "unix:///var/run/docker.sock")
    if not host.startswith("unix://"):
        pytest.skip(f"the engine proxy forwards a unix socket, not {host}")
    folder = tempfile.mkdtemp(prefix="qengine-", dir="/tmp")  # socket paths must be short
    proxy = EngineProxy(Path(folder) / "docker.sock", host.removeprefix("unix://"))
    proxy.up()
    try:
        yield proxy
    finally:
        proxy.down()
        shutil.rmtree(folder, ignore_errors=True)


@pytest.mark.docker
@pytest.mark.slow
def test_the_engine_going_away_mid_run_fails_clearly_and_a_rerun_resumes(
    tmp_path: Path, docker_client: docker.DockerClient, base_image: str, proxy: EngineProxy
) -> None:
    materialize_tasks(tmp_path / "tasks", ids=["micro__windows-1"])
    dataset = tmp_path / "tasks" / "instances.jsonl"
    router = Router(lambda body: body["model"], {"a": WINDOWS, "b": WINDOWS})
    out = tmp_path / "run"
    env = {**ENV, "DOCKER_HOST": proxy.url}

    def args() -> list[str]:
        return ["solve", "micro__windows-1", "--dataset", str(dataset), "-n", "2",
                "--concurrency", "2", "--model", "a", "--model", "b", "--models-file",
                str(models), "--sandbox", "docker", "--out", str(out)]  # fmt: skip

    with OpenAIStandIn() as server:
        server.responder = router
        models = models_file(tmp_path / "models.toml", server, "a", "b")
        held = router.hold("b", 2, answer=True)  # b's next action is an edit in its sandbox
        log = tmp_path / "failed.log"
        child = start_quorum(args(), log, env)
        try:
            wait_until(
                lambda: held.arrived.is_set() and "r0-t0" in ids(out / "candidates.jsonl"),
                "a finished and b is mid-trajectory", child=child, log=log,
            )  # fmt: skip
            # The restart: the engine stops answering, and every container of the run stops.
            proxy.down()
            for container in leftovers(docker_client, child.pid):
                with contextlib.suppress(docker.errors.APIError):
                    docker_client.api.kill(container)
            held.released.set()
            assert child.wait(120) == 1, log.read_text()[-4000:]
        finally:
            held.released.set()
            if child.poll() is None:
                child.kill()
                child.wait()
        text = log.read_text()
        assert "the Docker engine stopped answering while trajectory r0-t1 ran" in text, text
        assert "rerun with the same run directory" in text
        assert ids(out / "candidates.jsonl") == ["r0-t0"]
        assert json.loads((out / "trajectories" / "r0-t1.json").read_text())["exit"] is None

        proxy.up()  # the engine is back
        router.reset()
        assert run_quorum(args(), tmp_path / "rerun.log", env) == 0
        assert router.calls == {"b": 5}  # a was kept; b, interrupted, was redone

    assert leftovers(docker_client, child.pid) == []  # the stopped containers were swept
    assert not (out / "error.txt").exists()  # the failed attempt's, gone once resumed
    by_id = {c["id"]: c for c in map(json.loads, (out / "candidates.jsonl").open())}
    assert {i: c["exit_status"] for i, c in by_id.items()} == {
        "r0-t0": "submitted", "r0-t1": "submitted"}
    assert "size + 1" in (out / "patch.diff").read_text()
