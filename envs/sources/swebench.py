"""A Task from a SWE-bench instance. The gold patch stays behind: agents never see it."""

from __future__ import annotations

from pathlib import Path

from envs.instances import Instance, load_instances, select
from envs.repos import is_local_path
from envs.task import HiddenTests, Task


def task_from_instance(instance: Instance, *, repo: str | None = None) -> Task:
    """`repo` overrides where the repository is (a prepared clone, for example)."""
    url = None if is_local_path(instance.repo) else f"https://github.com/{instance.repo}"
    return Task(
        id=instance.instance_id,
        repo=repo or instance.repo,
        base_commit=instance.base_commit,
        problem_statement=instance.problem_statement,
        hints=instance.hints_text,
        source="swebench",
        url=url,
        version=instance.version,
        hidden=HiddenTests(fail_to_pass=instance.fail_to_pass,
                           pass_to_pass=instance.pass_to_pass,
                           test_patch=instance.test_patch),
    )


def task_from_swebench(instance_id: str, dataset: Path | str) -> Task:
    [instance] = select(load_instances(dataset), ids=[instance_id])
    return task_from_instance(instance)
