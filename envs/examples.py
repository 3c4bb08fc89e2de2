"""The bundled demo projects (examples/NAME) as ready-to-solve Tasks with hidden tests."""

from __future__ import annotations

from pathlib import Path

from envs.bundled import EXAMPLES_DIR, bundled_projects, hidden_dir, materialize_project
from envs.errors import TaskSourceError
from envs.instances import load_instances
from envs.sources.swebench import task_from_instance
from envs.task import Task

DEMO = "timesheet"  # calc stays bundled: the example for capable models


def list_examples(examples_dir: Path = EXAMPLES_DIR) -> list[str]:
    return [p.name for p in bundled_projects(examples_dir)]


def materialize_example(name: str, dest: Path | str, *,
                        examples_dir: Path = EXAMPLES_DIR) -> Task:
    """Copy example `name` to `dest` as a fresh git repository (no issue file, no hidden
    tests inside) and return its Task; the hidden tests ride along in `Task.hidden`."""
    project = examples_dir / name
    if name not in list_examples(examples_dir):
        raise TaskSourceError(f"no bundled example named {name!r}",
                              hint=f"choose one of: {', '.join(list_examples(examples_dir))}")
    [instance] = load_instances(hidden_dir(project) / "task.json")
    dest = Path(dest).expanduser()
    sha = materialize_project(project, dest, expect=instance.base_commit)
    task = task_from_instance(instance, repo=str(dest.resolve()))
    return task.model_copy(update={"base_commit": sha, "source": "local", "url": None})
