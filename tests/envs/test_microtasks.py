from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from envs.bundled import hidden_dir, new_file_diff
from envs.gitcmd import git
from envs.instances import load_instances
from envs.microtasks import TASKS_FILE, materialize_tasks
from tests.envs.grading import grade_gold


def test_at_least_eight_distinct_tasks():
    instances = load_instances(TASKS_FILE)
    assert len(instances) >= 8
    assert len({i.patch for i in instances}) == len(instances)
    for inst in instances:
        project = Path(inst.repo)
        assert project.is_dir() and inst.fail_to_pass and inst.pass_to_pass
        assert inst.patch == (hidden_dir(project) / "gold.patch").read_text()
        hidden_test = (hidden_dir(project) / "test_hidden.py").read_text()
        assert inst.test_patch == new_file_diff("tests/test_hidden.py", hidden_test)
        assert inst.patch.count("\n--- a/") == 1  # one file: single-function bugs


def test_materialised_instances_point_at_clean_repositories(tmp_path: Path):
    instances = materialize_tasks(tmp_path, ids=["micro__windows-1"])
    [inst] = instances
    assert inst.repo == str(tmp_path.resolve() / "micro__windows-1")
    assert git("rev-parse", "HEAD", cwd=inst.repo).strip() == inst.base_commit
    assert "ISSUE.md" not in git("ls-files", cwd=inst.repo)
    assert load_instances(tmp_path / "instances.jsonl") == instances


@pytest.mark.slow  # two pytest runs per task, in parallel: ~5 s on an idle 2-core machine
def test_each_gold_patch_resolves_its_task_and_nothing_passes_without_it(tmp_path: Path):
    instances = materialize_tasks(tmp_path)
    recorded = {i.instance_id: i.base_commit for i in load_instances(TASKS_FILE)}
    assert {i.instance_id: i.base_commit for i in instances} == recorded  # not stale
    with ThreadPoolExecutor(max_workers=8) as pool:
        problems = pool.map(lambda i: grade_gold(i, Path(i.repo)), instances)
    assert [p for found in problems for p in found] == []
