"""Turning what the user typed into a Task: a local repository, a GitHub issue URL, or a
SWE-bench instance id with its dataset file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from envs.environment import EnvironmentBuilder
from envs.instances import load_instances, select
from envs.official_images import DEFAULT_NAMESPACE, ImageSource
from envs.sources.github import task_from_github
from envs.sources.local import task_from_local
from envs.task import Task
from sandbox.config import default_ca_bundle
from sandbox.errors import QuorumError
from sandbox.provider import DockerProvider


def is_issue_url(target: str) -> bool:
    """The target names a GitHub issue (or pull request) by URL, not a local repository or
    an instance id."""
    return target.startswith(("http://", "https://"))


def is_instance(target: str, dataset: Path | None) -> bool:
    """The target is a SWE-bench instance id: what `resolve_task` solves in its image."""
    return dataset is not None and not is_issue_url(target)


def resolve_task(
    target: str,
    *,
    issue: str | None,
    issue_file: Path | None,
    dataset: Path | None,
    allow_dirty: bool,
    workdir: Path,
    environ: Mapping[str, str],
    github_api: str | None = None,
    repo_mirror: Path | None = None,
    sandbox: str = "docker",
    log_dir: Path | None = None,
    images: ImageSource = "build",
    image_namespace: str = DEFAULT_NAMESPACE,
) -> Task:
    """`workdir` holds clones (SWE-bench instances go next to it, in instances/); with
    Docker an instance is solved in its environment image, built once and shared with
    grading (or the official one: `images`), whose build log goes to `log_dir`."""
    if is_issue_url(target):
        return task_from_github(
            target,
            workdir=workdir,
            token=environ.get("GITHUB_TOKEN") or None,
            api_base=github_api,
            mirror_dir=repo_mirror,
        )
    if is_instance(target, dataset):
        return _instance_task(target, dataset, sandbox=sandbox, workdir=workdir,
                              repo_mirror=repo_mirror, log_dir=log_dir or workdir,
                              images=images, image_namespace=image_namespace)
    if issue is None and issue_file is None:
        raise QuorumError(
            f"no issue given for {target}",
            hint="pass --issue TEXT or --issue-file FILE (or a GitHub issue URL, or an "
            "instance id with --dataset)",
        )
    return task_from_local(target, issue=issue, issue_file=issue_file, allow_dirty=allow_dirty)


def _instance_task(instance_id: str, dataset: Path, *, sandbox: str, workdir: Path,
                   repo_mirror: Path | None, log_dir: Path, images: ImageSource,
                   image_namespace: str) -> Task:
    [instance] = select(load_instances(dataset), ids=[instance_id])
    docker = sandbox == "docker"
    builder = EnvironmentBuilder(
        DockerProvider.connect(run_id=f"env-{instance_id}"[:40]) if docker else None,
        cache_dir=workdir.parent / "instances",
        mirror_dir=repo_mirror,
        ca_bundle=default_ca_bundle(),
        images=images,
        namespace=image_namespace,
    )
    return builder.solve_task(instance, log_dir / "environment.log", in_docker=docker)
