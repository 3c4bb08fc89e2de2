"""`quorum bench --executor ray` on a one-node Ray cluster of the test's own, joined by its
address: the same two micro-tasks and scripted model as the local executor's test give the
same predictions, records and report; an interrupted run closes its sandboxes and records
nothing; a later run skips the finished instance and redoes the interrupted one. The model's
key reaches the Ray workers from `ray start`'s environment, never in task arguments."""

from __future__ import annotations

import asyncio
import json
import os
import pickle
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from agent.llm import ModelConfig
from agent.rollout import RolloutConfig
from envs.microtasks import materialize_tasks
from quorum.bench import BenchOptions, bench_run_id, read_records, run_bench
from quorum.bench_ray import RayUnavailable, connect_ray, portable_models
from quorum.solve import SolveOptions
from sandbox import labels
from sandbox.config import HOST_CA_BUNDLE
from tests.helpers.openai_standin import OpenAIStandIn, Reply
from tests.quorum.test_bench import BASKET, WINDOWS

KEY_ENV, KEY = "QUORUM_RAY_TEST_KEY", "sk-ray-test-0123456789abcdef"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def ray_cluster(tmp_path: Path) -> Iterator[str]:
    """`ray start --head --block` in its own session, stopped by SIGTERM to it alone (`ray
    stop` would stop every Ray on the machine). Small: 2 CPUs, no dashboard, 100 MB store."""
    port = _free_port()
    temp = tempfile.mkdtemp(prefix="qray-", dir="/tmp")  # Ray's socket paths must be short
    log = (tmp_path / "ray.log").open("w")
    proc = subprocess.Popen(
        [str(Path(sys.executable).parent / "ray"), "start", "--head", "--block",
         f"--port={port}", "--node-ip-address=127.0.0.1", "--num-cpus=2",
         "--include-dashboard=false", "--disable-usage-stats",
         "--object-store-memory=100000000", f"--temp-dir={temp}"],
        env={**os.environ, KEY_ENV: KEY}, stdout=log, stderr=subprocess.STDOUT,
        start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            assert proc.poll() is None, (tmp_path / "ray.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "ray start did not answer in 60 s"
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                time.sleep(0.3)
        yield f"127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: only what it started
            proc.wait()
        log.close()
        shutil.rmtree(temp, ignore_errors=True)


@pytest.mark.docker
@pytest.mark.slow
def test_bench_on_ray_survives_an_interrupt_matches_local_and_resumes(
    tmp_path: Path, ray_cluster: str, docker_client: docker.DockerClient
) -> None:
    instances = materialize_tasks(tmp_path / "tasks", ids=["micro__basket-1", "micro__windows-1"])
    basket, windows = instances
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    out = tmp_path / f"ray-{uuid.uuid4().hex[:8]}"  # its own run id: other runs' containers
    options = BenchOptions(
        out=out, grade=True, workers=2, executor="ray", ray_address=ray_cluster,
        solve=SolveOptions(rollout=RolloutConfig(n=1, concurrency=1), budget_usd=1.0,
                           ca_bundle=bundle))  # fmt: skip
    ours = {"label": f"{labels.RUN_ID}={bench_run_id(options)}"}
    with OpenAIStandIn(api_key=KEY) as server:
        endpoint = ModelConfig(name="m", base_url=server.base_url, api_key_env=KEY_ENV,
                               free=True).resolve({KEY_ENV: KEY})  # fmt: skip
        assert KEY.encode() not in pickle.dumps(portable_models([endpoint]))

        # 1. Interrupted while the agent waits on the model: the task closes its sandbox,
        # nothing is recorded.
        server.script_for("m", Reply.text("thinking", delay_s=30))

        async def interrupted() -> None:
            run = asyncio.ensure_future(run_bench([windows], [endpoint], options))
            deadline = time.monotonic() + 60
            while not server.requests:  # the task's sandbox is up and the agent is asking
                assert time.monotonic() < deadline and not run.done()
                await asyncio.sleep(0.2)
            run.cancel()  # what Ctrl-C does to asyncio.run's main task
            with pytest.raises(asyncio.CancelledError):
                await run

        asyncio.run(interrupted())
        assert read_records(out) == {}
        assert not docker_client.containers.list(all=True, filters=ours)

        # 2. One instance finished; 3. both asked for: the finished one is skipped, the
        # interrupted one redone.
        server.script_for("m", *BASKET)
        first = asyncio.run(run_bench([basket], [endpoint], options))
        assert first["done_instances"] == 1 and first["resolved_instances"] == 0
        server.script_for("m", *WINDOWS)  # only the unfinished instance may use it
        report = asyncio.run(run_bench(instances, [endpoint], options))

    # What the local executor's test asserts, word for word.
    assert report["done_instances"] == 2 and report["resolved_ids"] == ["micro__windows-1"]
    assert report["resolve_rate"] == 0.5 and report["coverage"] == 0.5
    assert report["selection_accuracy"] == 1.0 and report["pass_at_k"] == {"1": 0.5}
    preds = [json.loads(x) for x in (out / "preds.jsonl").read_text().splitlines()]
    assert [p["instance_id"] for p in preds] == ["micro__basket-1", "micro__windows-1"]
    assert set(preds[0]) == {"instance_id", "model_name_or_path", "model_patch"}
    assert "size + 1" in preds[1]["model_patch"]
    assert "test_repro_issue" not in preds[1]["model_patch"]
    records = read_records(out)
    assert len((out / "bench.jsonl").read_text().splitlines()) == 2  # the basket not redone
    for inst in instances:
        rec = records[inst.instance_id]
        assert rec.status == "patch" and rec.resolved is not None and rec.tokens > 0
        assert len(rec.candidate_resolved) == 1
        # The task wrote the run folder where the local executor would.
        assert (out / "runs" / inst.instance_id / "candidate_patches.json").is_file()
        assert (out / "eval" / inst.instance_id).is_dir()


def test_an_address_that_does_not_answer_fails_at_once() -> None:
    started = time.monotonic()
    with pytest.raises(RayUnavailable, match="does not answer") as caught:
        connect_ray(f"127.0.0.1:{_free_port()}")
    assert caught.value.hint and "ray start --head" in caught.value.hint
    assert time.monotonic() - started < 10


def test_missing_ray_says_how_to_install_it(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` meets when absent
    with pytest.raises(RayUnavailable) as caught:
        connect_ray(None)
    assert "pip install 'quorum[ray]'" in str(caught.value)
