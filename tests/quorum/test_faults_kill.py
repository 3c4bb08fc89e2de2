"""`kill -9` of `quorum solve` and of `quorum bench` in the middle of a run, then the same
command again with the same `--out`: finished trajectories and instances are kept and not
paid for again (counted as calls on the stand-in server), the killed run's containers are
gone once the rerun has started, and the final records have the shape of an uninterrupted
run's. The stand-in holds one request of an unfinished trajectory, so the kill always
lands while some work has finished and some is running."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import docker
import pytest

from envs.microtasks import materialize_tasks
from tests.helpers.faults import (
    ENV,
    Router,
    ids,
    kill_9,
    leftovers,
    lines,
    models_file,
    run_quorum,
    start_quorum,
    tree,
    wait_until,
)
from tests.helpers.openai_standin import OpenAIStandIn
from tests.quorum.test_bench import BASKET, WINDOWS

pytestmark = [pytest.mark.docker, pytest.mark.slow]


def _shape(value: Any) -> Any:
    """The structure of a JSON value: keys all the way down, lists by their items' shapes,
    scalars by kind. Two runs of the same scripts must agree on it."""
    if isinstance(value, dict):
        return {k: _shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return sorted({json.dumps(_shape(v), sort_keys=True) for v in value})
    if isinstance(value, bool) or value is None:
        return type(value).__name__
    if isinstance(value, int | float):
        return "number"
    return type(value).__name__


def _json_shapes(root: Path) -> dict[str, Any]:
    shapes: dict[str, Any] = {}
    for rel in sorted(tree(root)):
        path = root / rel
        if rel.endswith(".json"):
            shapes[rel] = _shape(json.loads(path.read_text()))
        elif rel.endswith(".jsonl"):  # how many lines is for the caller to check
            shapes[rel] = _shape(lines(path))
    return shapes


def _stop(child: subprocess.Popen) -> None:
    if child.poll() is None:
        child.kill()
        child.wait()


def _same_run(resumed: Path, reference: Path) -> None:
    assert tree(resumed) == tree(reference)
    assert _json_shapes(resumed) == _json_shapes(reference)


def test_kill_9_of_solve_then_the_same_command_resumes(
    tmp_path: Path, docker_client: docker.DockerClient, base_image: str
) -> None:
    materialize_tasks(tmp_path / "tasks", ids=["micro__windows-1"])
    dataset = tmp_path / "tasks" / "instances.jsonl"
    router = Router(lambda body: body["model"], {"a": WINDOWS, "b": WINDOWS})
    out, ref = tmp_path / "run", tmp_path / "reference"

    def args(where: Path) -> list[str]:
        return ["solve", "micro__windows-1", "--dataset", str(dataset), "-n", "2",
                "--concurrency", "2", "--model", "a", "--model", "b", "--models-file",
                str(models), "--sandbox", "docker", "--out", str(where)]  # fmt: skip

    with OpenAIStandIn() as server:
        server.responder = router
        models = models_file(tmp_path / "models.toml", server, "a", "b")
        assert run_quorum(args(ref), tmp_path / "reference.log", ENV) == 0
        assert router.calls == {"a": 5, "b": 5}

        # First run: a finishes, b is held on its third call; then kill -9.
        router.reset()
        held = router.hold("b", 2)
        log = tmp_path / "killed.log"
        child = start_quorum(args(out), log, ENV)
        try:
            wait_until(
                lambda: held.arrived.is_set() and "r0-t0" in ids(out / "candidates.jsonl"),
                "a finished and b is mid-trajectory", child=child, log=log,
            )  # fmt: skip
            # b's sandbox, which a crash leaves behind (read while its owner lives, so no
            # other process's sweep can have removed it yet)
            assert leftovers(docker_client, child.pid)
            kill_9(child)
        finally:
            _stop(child)
            held.released.set()
        assert ids(out / "candidates.jsonl") == ["r0-t0"]
        assert json.loads((out / "trajectories" / "r0-t1.json").read_text())["exit"] is None

        # The same command again: the killed run's containers are gone once it has started.
        _rerun_after_the_kill(router, "b", args(out), tmp_path, docker_client, child.pid)
        assert router.calls == {"b": 5}  # a had finished: kept, not asked again

    _same_run(out, ref)
    assert sorted(ids(out / "candidates.jsonl")) == ["r0-t0", "r0-t1"]
    assert (out / "patch.diff").read_text() == (ref / "patch.diff").read_text() != ""
    cost = json.loads((out / "cost.json").read_text())
    assert cost["total"]["calls"] == 5 + 5 + 2  # a kept, b's killed attempt, b again


def test_kill_9_of_bench_then_the_same_command_resumes(
    tmp_path: Path, docker_client: docker.DockerClient, base_image: str
) -> None:
    instances = materialize_tasks(tmp_path / "tasks", ids=["micro__basket-1", "micro__windows-1"])
    dataset = tmp_path / "tasks" / "instances.jsonl"
    scripts = {"basket": BASKET, "windows": WINDOWS}

    def route(body: dict[str, Any]) -> str:
        """instance/trajectory: the task message names the instance, and trajectories
        differ by temperature (t0 0.0, t1 0.6)."""
        task = json.dumps(body["messages"][:2])
        name = next(n for n in scripts if n in task.lower())
        return f"{name}/{0 if body.get('temperature') == 0.0 else 1}"

    router = Router(route, {f"{n}/{t}": s for n, s in scripts.items() for t in (0, 1)})
    out, ref = tmp_path / "bench", tmp_path / "reference"

    def args(where: Path) -> list[str]:
        return ["bench", "--dataset", str(dataset), "--out", str(where), "-n", "2",
                "--concurrency", "2", "--workers", "1", "--model", "m",
                "--models-file", str(models)]  # fmt: skip

    everything = {f"{n}/{t}": 5 for n in scripts for t in (0, 1)}
    with OpenAIStandIn() as server:
        server.responder = router
        models = models_file(tmp_path / "models.toml", server, "m")
        assert run_quorum(args(ref), tmp_path / "reference.log", ENV) == 0
        assert router.calls == everything

        # basket finishes, windows' first trajectory finishes, its second is held: kill -9.
        router.reset()
        held = router.hold("windows/1", 2)
        log = tmp_path / "killed.log"
        child = start_quorum(args(out), log, ENV)
        windows_run = out / "runs" / "micro__windows-1" / "candidates.jsonl"
        try:
            wait_until(
                lambda: held.arrived.is_set() and "r0-t0" in ids(windows_run),
                "basket done and windows mid-instance", child=child, log=log,
            )  # fmt: skip
            assert leftovers(docker_client, child.pid)  # what the kill leaves behind
            kill_9(child)
        finally:
            _stop(child)
            held.released.set()
        assert ids(out / "bench.jsonl", "instance_id") == ["micro__basket-1"]

        _rerun_after_the_kill(router, "windows/1", args(out), tmp_path, docker_client, child.pid)
        # Neither the finished instance nor the finished trajectory is paid for again.
        assert router.calls == {"windows/1": 5}

    _same_run(out, ref)
    assert ids(out / "bench.jsonl", "instance_id") == [i.instance_id for i in instances]
    assert lines(out / "preds.jsonl") == lines(ref / "preds.jsonl")
    report, expected = (json.loads((d / "bench_report.json").read_text()) for d in (out, ref))
    assert {k: v for k, v in report.items() if k not in ("wall_s", "tokens")} == {
        k: v for k, v in expected.items() if k not in ("wall_s", "tokens")
    }


def _rerun_after_the_kill(router, route: str, argv: list[str], tmp_path: Path, docker_client,
                          killed_pid: int) -> None:  # fmt: skip
    """The same command again: the killed run's containers are gone once it has made its
    first model call (held on `route` until checked), and it finishes with exit 0."""
    router.reset()
    again = router.hold(route, 0, answer=True)
    log = tmp_path / "rerun.log"
    rerun = start_quorum(argv, log, ENV)
    try:
        wait_until(again.arrived.is_set, "the rerun's first call", child=rerun, log=log)
        assert leftovers(docker_client, killed_pid) == []
        again.released.set()
        assert rerun.wait(120) == 0, log.read_text()[-4000:]
    finally:
        again.released.set()
        _stop(rerun)
