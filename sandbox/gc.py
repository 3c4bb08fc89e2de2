"""The label sweep: remove our containers whose owner is gone or whose TTL has passed; and
the image prune: remove the snapshots and environment images we made."""

from __future__ import annotations

import re
import time
from typing import NamedTuple

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


PRUNABLE = ("snapshot", "environment")  # base images are the recipe's: `quorum images list`


class PrunedImage(NamedTuple):
    name: str  # a tag, or the id of an untagged image
    kind: str
    removed: bool  # False: kept, the engine refused (a container uses it, or a child image)
    reason: str = ""


def prune_images(
    client: docker.DockerClient,
    *,
    older_than_s: float = 0,
    keep_environments: bool = False,
    now: float | None = None,
    label: str | None = None,
) -> list[PrunedImage]:
    """Remove the images Quorum made (label `MANAGED=1`; nobody else's) that are instance
    snapshots or, unless `keep_environments`, environment images, created more than
    `older_than_s` ago. Snapshots go first: they are the environments' children. An image a
    container still uses is kept (never forced). `label` ("key=value") narrows the choice."""
    now = time.time() if now is None else now
    kinds = ["snapshot"] if keep_environments else list(PRUNABLE)
    wanted = [f"{labels.MANAGED}=1", *([label] if label else [])]
    with translate_docker_errors("list Quorum images"):
        found = client.api.images(filters={"label": wanted})
    chosen = [
        image for image in found
        if (image.get("Labels") or {}).get(labels.KIND) in kinds
        and float(image.get("Created") or 0) < now - older_than_s
    ]  # fmt: skip
    chosen.sort(key=lambda image: kinds.index(image["Labels"][labels.KIND]))
    outcome = []
    for image in chosen:
        kind = image["Labels"][labels.KIND]
        tags = [t for t in image.get("RepoTags") or [] if t != "<none>:<none>"]
        for name in tags or [image["Id"]]:
            try:
                client.api.remove_image(name)
            except docker.errors.NotFound:
                continue  # gone already: another prune, or its last tag went with another
            except docker.errors.APIError as exc:
                reason = str(getattr(exc, "explanation", "") or exc)
                outcome.append(PrunedImage(name, kind, removed=False, reason=reason))
                continue
            outcome.append(PrunedImage(name, kind, removed=True))
    return outcome


class ImageUsage(NamedTuple):
    count: int  # snapshots and environment images Quorum made
    own_bytes: int  # their layers above the base images: what pruning them all frees


def image_usage(client: docker.DockerClient, *, label: str | None = None) -> ImageUsage:
    """How much disk Quorum's prunable images take. `docker system df` counts a layer shared
    by two images for neither, and an environment's layers are shared by its snapshots, so:
    each snapshot's own layers, plus each environment image's size above the base image its
    layers start with (read from the layer lists)."""
    wanted = {f"{labels.MANAGED}=1", *([label] if label else [])}
    with translate_docker_errors("measure Quorum images"):
        found = client.df().get("Images") or []

        def layers(image_id: str) -> list[str]:
            return client.api.inspect_image(image_id).get("RootFS", {}).get("Layers") or []

        def ours(image: dict) -> bool:
            tags = image.get("Labels") or {}
            return all(tags.get(k) == v for k, _, v in (w.partition("=") for w in wanted))

        kinds = {image["Id"]: (image.get("Labels") or {}).get(labels.KIND) for image in found}
        bases = [(layers(i["Id"]), int(i.get("Size") or 0)) for i in found
                 if kinds[i["Id"]] == "base-image"]  # fmt: skip
        count = own = 0
        for image in found:
            kind, size = kinds[image["Id"]], int(image.get("Size") or 0)
            if kind not in PRUNABLE or not ours(image):
                continue
            count += 1
            if kind == "snapshot":
                own += max(size - max(int(image.get("SharedSize", -1)), 0), 0)
                continue
            mine = layers(image["Id"])
            below = max((s for ls, s in bases if ls and mine[: len(ls)] == ls), default=0)
            own += max(size - below, 0)
    return ImageUsage(count, own)


def parse_age(text: str) -> float:
    """`30m`, `12h`, `7d`, `2w` or plain seconds -> seconds; ValueError on anything else."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*", text)
    if not match:
        raise ValueError(f"not an age: {text!r} (use e.g. 30m, 12h, 7d)")
    unit = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}[match.group(2)]
    return float(match.group(1)) * unit
