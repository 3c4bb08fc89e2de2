"""The image prune: only images Quorum made, snapshots before environments, in-use ones kept;
environment images and instance snapshots carry distinct kind labels."""

from __future__ import annotations

import contextlib
import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import docker
import pytest

from sandbox import labels
from sandbox.config import SnapshotSpec
from sandbox.gc import parse_age, prune_images
from sandbox.provider import DockerProvider
from tests.helpers.images import image_with_bytes
from tests.sandbox.conftest import make_repo


def test_ages_read_as_seconds() -> None:
    assert parse_age("90") == 90 and parse_age("30m") == 1800 and parse_age("12h") == 43200
    assert parse_age("7d") == 7 * 86400 and parse_age("2w") == 14 * 86400
    with pytest.raises(ValueError, match="not an age"):
        parse_age("soon")


@pytest.fixture
def scoped(docker_client: docker.DockerClient) -> Iterator[tuple[str, dict[str, str]]]:
    """A label only this test's images carry (prune never meets anyone else's images), and
    images of each kind: name -> tag. Whatever is left is removed afterwards."""
    scope = f"ai.quorum.test-scope={uuid.uuid4().hex[:12]}"
    made: dict[str, str] = {}
    kinds = {"snap": ("snapshot", True), "env": ("environment", True),
             "base": ("base-image", True), "foreign": ("snapshot", False)}  # fmt: skip
    for name, (kind, managed) in kinds.items():
        lines = ["FROM scratch", f"LABEL {scope} {labels.KIND}={kind}"]
        if managed:
            lines.append(f"LABEL {labels.MANAGED}=1")
        tag = f"quorum-test-prune:{name}-{scope.rsplit('=', 1)[1]}"
        docker_client.images.build(fileobj=io.BytesIO("\n".join(lines).encode()), tag=tag,
                                   rm=True)  # fmt: skip
        made[name] = tag
    yield scope, made
    for tag in made.values():
        with contextlib.suppress(docker.errors.NotFound):
            docker_client.images.remove(tag, force=True)


def _tags(client: docker.DockerClient, scope: str) -> set[str]:
    return {t for image in client.images.list(filters={"label": scope}) for t in image.tags}


@pytest.mark.docker
def test_prune_removes_only_quorums_snapshots_and_environments(docker_client, scoped) -> None:
    scope, made = scoped
    assert prune_images(docker_client, older_than_s=3600, label=scope) == []  # all are new
    kept_envs = prune_images(docker_client, keep_environments=True, label=scope)
    assert [(p.name, p.kind, p.removed) for p in kept_envs] == [(made["snap"], "snapshot", True)]
    assert _tags(docker_client, scope) == {made["env"], made["base"], made["foreign"]}
    rest = prune_images(docker_client, label=scope)
    assert [(p.name, p.removed) for p in rest] == [(made["env"], True)]
    # The base image (the recipe's) and the image Quorum did not make are left alone.
    assert _tags(docker_client, scope) == {made["base"], made["foreign"]}


@pytest.mark.docker
def test_an_image_a_container_uses_is_kept(docker_client, scoped) -> None:
    scope, made = scoped
    container = docker_client.api.create_container(made["snap"], command="none")
    try:
        [kept] = prune_images(docker_client, keep_environments=True, label=scope)
        assert kept.name == made["snap"] and not kept.removed and kept.reason
        assert made["snap"] in _tags(docker_client, scope)
    finally:
        docker_client.api.remove_container(container["Id"], force=True)


@pytest.mark.docker
def test_environment_images_are_labelled_apart(docker_client, base_image, tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo")
    provider = DockerProvider(docker_client, run_id="pytest-prune")
    marker = uuid.uuid4().hex  # a fresh key: the image is built, not found
    tag = provider.snapshot(SnapshotSpec(base_image=base_image, source=repo,
                                         setup=[f"echo {marker}"], kind="environment"))  # fmt: skip
    try:
        assert docker_client.images.get(tag).labels[labels.KIND] == "environment"
    finally:
        docker_client.images.remove(tag, force=True)
        provider.close_all()


@pytest.mark.docker
def test_image_usage_counts_only_quorums_prunable_images(docker_client) -> None:
    from sandbox.gc import image_usage

    scope = f"ai.quorum.test-scope={uuid.uuid4().hex[:12]}"
    made = {"snap": ("snapshot", True, 3 << 20), "base": ("base-image", True, 1 << 20),
            "foreign": ("snapshot", False, 2 << 20)}  # fmt: skip
    tags = []
    try:
        for name, (kind, managed, size) in made.items():
            lines = [f"LABEL {scope} {labels.KIND}={kind}"]
            if managed:
                lines.append(f"LABEL {labels.MANAGED}=1")
            tags.append(f"quorum-test-usage:{name}-{scope.rsplit('=', 1)[1]}")
            image_with_bytes(docker_client, tags[-1], lines, size)
        usage = image_usage(docker_client, label=scope)
        assert usage.count == 1  # the base image and the foreign one are not Quorum's to prune
        assert 3 << 20 <= usage.own_bytes < 4 << 20
    finally:
        for tag in tags:
            with contextlib.suppress(docker.errors.NotFound):
                docker_client.images.remove(tag, force=True)
