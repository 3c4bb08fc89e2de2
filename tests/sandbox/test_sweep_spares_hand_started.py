"""A container a person starts by hand from a Quorum snapshot is theirs: the snapshot does
not pass its build container's owner marks on, so the next run's sweep leaves it alone,
while a Quorum sandbox whose owner is gone is still swept."""

from __future__ import annotations

import contextlib
import socket
import uuid
from pathlib import Path

import docker
import pytest

from sandbox import labels
from sandbox.config import SnapshotSpec
from sandbox.gc import sweep
from sandbox.provider import DockerProvider
from tests.sandbox.conftest import make_repo

pytestmark = pytest.mark.docker


def test_the_sweep_spares_a_container_started_by_hand(
        docker_client: docker.DockerClient, base_image: str, tmp_path: Path) -> None:
    provider = DockerProvider(docker_client, run_id="pytest-hand")
    tag = provider.snapshot(SnapshotSpec(base_image=base_image, source=make_repo(tmp_path / "r"),
                                         # a fresh image: one built earlier may predate
                                         setup=[f"echo {uuid.uuid4().hex} > /tmp/mark"]))
    image_labels = docker_client.images.get(tag).labels
    assert image_labels[labels.MANAGED] == "1"
    assert all(not image_labels.get(name) for name in (labels.OWNER_PID, labels.OWNER_HOST,
                                                        labels.RUN_ID, labels.TTL_S))
    by_hand = docker_client.containers.run(tag, ["sleep", "120"], detach=True)
    dead = docker_client.containers.run(  # a sandbox whose run died (pid 1 never owns one)
        tag, ["sleep", "120"], detach=True,
        labels={labels.MANAGED: "1", labels.OWNER_PID: "999999999",
                labels.OWNER_HOST: socket.gethostname()})  # fmt: skip
    try:
        removed = sweep(docker_client)
        assert by_hand.id not in removed and dead.id in removed
        by_hand.reload()
        assert by_hand.status == "running"
    finally:
        for container in (by_hand, dead):
            with contextlib.suppress(docker.errors.NotFound):
                container.remove(force=True)
