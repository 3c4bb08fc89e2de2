"""`--test-network`: the containers of a solve that only run tests (test pool, pass matrix,
regressions) have no network by default, and Docker's bridge when `bridge` is asked; the
agents' containers never have any. Only the container's settings are looked at: nothing is
sent off the machine."""

from __future__ import annotations

from pathlib import Path

import pytest

from envs.microtasks import materialize_tasks
from quorum.sandboxes import sandbox_factory
from quorum.tasks import resolve_task
from sandbox.docker_client import connect

pytestmark = pytest.mark.docker
ID = "micro__basket-1"


def _mode(box) -> str:
    return connect().api.inspect_container(box.container_id)["HostConfig"]["NetworkMode"]


def test_test_containers_get_network_only_when_asked(tmp_path: Path) -> None:
    materialize_tasks(tmp_path / "tasks", ids=[ID])
    task = resolve_task(ID, issue=None, issue_file=None, allow_dirty=False,
                        dataset=tmp_path / "tasks" / "instances.jsonl",
                        workdir=tmp_path / "cache", environ={}, log_dir=tmp_path,
                        sandbox="docker")  # fmt: skip
    with (
        sandbox_factory(task, "docker", run_id="pytest-test-network") as start,
        start(tests=True) as box,  # type: ignore[call-arg]
    ):
        assert _mode(box) == "none"
        assert box.exec("ls /sys/class/net", timeout=30).stdout.split() == ["lo"]
    with sandbox_factory(task, "docker", run_id="pytest-test-network",
                         test_network=True) as start:  # fmt: skip
        with start(tests=True) as box:  # type: ignore[call-arg]
            assert _mode(box) in ("bridge", "default")
        with start() as agent_box:
            assert _mode(agent_box) == "none"
