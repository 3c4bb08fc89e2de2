from pathlib import Path

import pytest

from envs.checkout import checkout_instance
from envs.errors import CloneError
from envs.gitcmd import commit_all, git
from envs.instances import Instance, load_instances, select
from envs.microtasks import TASKS_FILE
from tests.envs.conftest import make_repo


def test_bundled_task_straight_from_its_record(tmp_path: Path):
    [inst] = select(load_instances(TASKS_FILE), ids=["micro__grades-1"])
    assert checkout_instance(inst, tmp_path / "ws") == inst.base_commit
    assert (tmp_path / "ws" / "grades.py").is_file()


def test_stale_bundled_record_is_refused(tmp_path: Path):
    [inst] = select(load_instances(TASKS_FILE), ids=["micro__grades-1"])
    stale = inst.model_copy(update={"base_commit": "0" * 40})
    with pytest.raises(CloneError, match=r"python -m envs\.bundled_records"):
        checkout_instance(stale, tmp_path / "ws")


def test_local_git_repository_at_an_older_commit(tmp_path: Path):
    src = tmp_path / "team-repo"
    first = make_repo(src, {"a.py": "A = 1\n"})
    (src / "a.py").write_text("A = 2\n")
    commit_all(src, "later")
    inst = Instance(instance_id="team__repo-1", repo=str(src), base_commit=first,
                    problem_statement="A should be 3")
    assert checkout_instance(inst, tmp_path / "ws") == first
    assert (tmp_path / "ws" / "a.py").read_text() == "A = 1\n"
    assert git("status", "--porcelain", cwd=tmp_path / "ws") == ""


def test_github_instance_from_a_mirror(tmp_path: Path, bare_origin):
    bare, sha = bare_origin
    (tmp_path / "mirror").mkdir()
    bare.rename(tmp_path / "mirror" / "acme+widgets")
    inst = Instance(instance_id="acme__widgets-1", repo="acme/widgets", base_commit=sha,
                    problem_statement="p")
    assert checkout_instance(inst, tmp_path / "ws", mirror_dir=tmp_path / "mirror") == sha
