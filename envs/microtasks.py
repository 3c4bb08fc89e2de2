"""The bundled micro-tasks (examples/tasks/): small single-function bugs in SWE-bench format,
for measuring how sampling and selection scale with a small model."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from envs.bundled import EXAMPLES_DIR, materialize_project
from envs.instances import Instance, load_instances, select, write_instances

TASKS_FILE = EXAMPLES_DIR / "tasks" / "instances.jsonl"


def materialize_tasks(dest: Path | str, *, ids: Iterable[str] | None = None,
                      tasks_file: Path | str = TASKS_FILE) -> list[Instance]:
    """Make each task's repository a git repository under `dest/INSTANCE_ID`, and write
    `dest/instances.jsonl` whose `repo` fields point at them; return those instances.
    Running it again over the same `dest` reuses the repositories already there."""
    dest = Path(dest).expanduser().resolve()
    dest.mkdir(parents=True, exist_ok=True)
    out = []
    for inst in select(load_instances(tasks_file), ids=ids):
        repo_dir = dest / inst.instance_id
        sha = materialize_project(Path(inst.repo), repo_dir, expect=inst.base_commit)
        out.append(inst.model_copy(update={"repo": str(repo_dir), "base_commit": sha}))
    write_instances(out, dest / "instances.jsonl")
    return out
