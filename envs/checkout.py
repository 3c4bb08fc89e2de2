"""Put an instance's repository at its base commit in a directory, wherever it comes from:
GitHub, a mirror, a local git repository, or a bundled project stored as plain files."""

from __future__ import annotations

from pathlib import Path

from envs.bundled import materialize_project
from envs.errors import CloneError
from envs.instances import Instance
from envs.repos import clone, clone_source, is_local_path


def checkout_instance(instance: Instance, dest: Path | str, *,
                      mirror_dir: Path | str | None = None,
                      clone_url: str | None = None) -> str:
    """Clone (or materialise) into `dest`, which must not exist; return the base commit."""
    dest = Path(dest)
    repo = Path(instance.repo).expanduser()
    if is_local_path(instance.repo) and repo.is_dir() and not (repo / ".git").exists():
        # A plain-files project (examples/tasks): its pinned commit reproduces base_commit.
        sha = materialize_project(repo, dest)
        if sha != instance.base_commit:
            raise CloneError(
                f"{repo} gives commit {sha[:12]}, not {instance.instance_id}'s base commit "
                f"{instance.base_commit[:12]}",
                hint="the project changed after its record was written: "
                "run python -m envs.bundled_records",
            )
        return sha
    source = clone_source(instance.repo, mirror_dir=mirror_dir, clone_url=clone_url)
    return clone(source, dest, commit=instance.base_commit)
