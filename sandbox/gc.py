"""The label sweep: remove our containers whose owner is gone or whose TTL has passed."""

from __future__ import annotations

import time

import docker

from sandbox import labels
from sandbox.docker_client import translate_docker_errors
from sandbox.owner import owner_alive


def is_stale(container_labels: dict[str, str], now: float) -> bool:
    created = float(container_labels.get(labels.CREATED_AT, "0") or 0)
    ttl = float(container_labels.get(labels.TTL_S, "0") or 0)
    if ttl and created + ttl < now:
        return True
    return not owner_alive(
        container_labels.get(labels.OWNER_PID, ""),
        container_labels.get(labels.OWNER_HOST, ""),
        container_labels.get(labels.OWNER_STARTED, ""),
    )


def sweep(client: docker.DockerClient, *, now: float | None = None) -> list[str]:
    """Remove stale Quorum containers; returns the ids removed."""
    now = time.time() if now is None else now
    removed = []
    with translate_docker_errors("sweep leftover sandboxes"):
        # The low-level list: docker-py's high-level one inspects each container after
        # listing, and fails when another run removes one in between.
        found = client.api.containers(all=True, filters={"label": f"{labels.MANAGED}=1"})
        for container in found:
            if is_stale(container.get("Labels") or {}, now):
                try:
                    client.api.remove_container(container["Id"], force=True)
                except docker.errors.NotFound:
                    continue  # someone else swept it first
                removed.append(container["Id"])
    return removed
