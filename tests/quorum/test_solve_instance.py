"""`quorum solve ID --dataset FILE`: the instance is solved in its environment image (the
one grading uses), and a GitHub-hosted instance's repository comes from --repo-mirror."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from envs.microtasks import materialize_tasks
from quorum.sandboxes import sandbox_factory
from quorum.tasks import resolve_task

ID = "micro__basket-1"


def _resolve(target: str, dataset: Path, tmp_path: Path, **kw):
    return resolve_task(target, issue=None, issue_file=None, dataset=dataset, allow_dirty=False,
                        workdir=tmp_path / "cache" / "repos", environ={}, log_dir=tmp_path,
                        **kw)  # fmt: skip


@pytest.mark.docker
@pytest.mark.slow
def test_an_instance_is_solved_in_its_environment_image(tmp_path: Path) -> None:
    [instance] = materialize_tasks(tmp_path / "tasks", ids=[ID])
    task = _resolve(ID, tmp_path / "tasks" / "instances.jsonl", tmp_path, sandbox="docker")
    assert task.image and task.hidden is not None and task.repo == instance.repo
    assert (tmp_path / "environment.log").is_file()  # empty when the image was cached
    with sandbox_factory(task, "docker", run_id="pytest-instance") as start, start() as box:
        assert box.base_commit == instance.base_commit
        # The agent's plain `python` is the environment's, and the repository is there.
        tests = box.exec("python -m pytest -q -p no:cacheprovider tests", timeout=120)
        assert "passed" in tests.output, tests.output
        assert box.exec("which python", timeout=10).stdout.strip() == "/usr/local/bin/python"
    # A second resolve reuses the image: nothing is rebuilt.
    again = _resolve(ID, tmp_path / "tasks" / "instances.jsonl", tmp_path, sandbox="docker")
    assert again.image == task.image


def test_a_github_instance_comes_from_the_mirror(tmp_path: Path) -> None:
    [local] = materialize_tasks(tmp_path / "tasks", ids=[ID])
    mirror = tmp_path / "mirror"
    subprocess.run(["git", "clone", "-q", "--bare", local.repo, str(mirror / "team+basket")],
                   check=True)  # fmt: skip
    hosted = local.model_copy(update={"repo": "team/basket"})
    dataset = tmp_path / "hosted.jsonl"
    dataset.write_text(json.dumps(hosted.model_dump(mode="json")) + "\n")
    task = _resolve(ID, dataset, tmp_path, sandbox="local", repo_mirror=mirror)
    assert task.url == "https://github.com/team/basket"
    assert Path(task.repo) == mirror / "team+basket"
    assert task.base_commit == local.base_commit and task.image is None
