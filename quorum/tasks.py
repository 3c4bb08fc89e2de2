"""Turning what the user typed into a Task: a local repository, a GitHub issue URL, or a
SWE-bench instance id with its dataset file."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from envs.sources.github import task_from_github
from envs.sources.local import task_from_local
from envs.sources.swebench import task_from_swebench
from envs.task import Task
from sandbox.errors import QuorumError


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
) -> Task:
    if target.startswith(("http://", "https://")):
        return task_from_github(
            target,
            workdir=workdir,
            token=environ.get("GITHUB_TOKEN") or None,
            api_base=github_api,
            mirror_dir=repo_mirror,
        )
    if dataset is not None:
        return task_from_swebench(target, dataset)
    if issue is None and issue_file is None:
        raise QuorumError(
            f"no issue given for {target}",
            hint="pass --issue TEXT or --issue-file FILE (or a GitHub issue URL, or an "
            "instance id with --dataset)",
        )
    return task_from_local(target, issue=issue, issue_file=issue_file, allow_dirty=allow_dirty)
