import json
from pathlib import Path

import pytest

from envs.bundled import EXAMPLES_DIR, HIDDEN_TEST_PATH, hidden_dir, new_file_diff
from envs.bundled_records import pytest_statuses
from envs.errors import TaskSourceError
from envs.examples import DEMO, list_examples, materialize_example
from envs.gitcmd import git
from envs.instances import Instance
from tests.envs.grading import grade_gold

# each bundled example: its package and how its issue starts
EXAMPLES = {"calc": ("calc", "# Chained `**`"), "timesheet": ("timesheet", "# Report shows `1:5`")}


def test_demo_is_listed():
    assert DEMO in list_examples()
    assert set(EXAMPLES) == set(list_examples())


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_workspace_is_a_clean_repository_without_hidden_material(tmp_path: Path, name: str):
    package, issue_start = EXAMPLES[name]
    task = materialize_example(name, tmp_path / "ws")
    ws = Path(task.repo)
    assert task.base_commit == git("rev-parse", "HEAD", cwd=ws).strip()
    assert git("status", "--porcelain", cwd=ws) == ""
    files = git("ls-files", cwd=ws).split()
    assert "ISSUE.md" not in files and HIDDEN_TEST_PATH not in files
    assert not any("hidden" in f or f.endswith(".patch") for f in files)
    assert len([f for f in files if f.startswith(f"{package}/") and f.endswith(".py")]) >= 5
    assert task.problem_statement.startswith(issue_start)
    assert task.hidden and task.hidden.fail_to_pass and task.hidden.pass_to_pass
    gold = (hidden_dir(EXAMPLES_DIR / name) / "gold.patch").read_text()
    assert gold not in task.model_dump_json()


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_own_tests_pass_on_the_buggy_code(tmp_path: Path, name: str):
    task = materialize_example(name, tmp_path / "ws")
    statuses = pytest_statuses(Path(task.repo))
    assert len(statuses) >= 15
    assert set(statuses.values()) == {"PASSED"}


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_hidden_tests_fail_on_the_bug_and_pass_with_the_gold_fix(tmp_path: Path, name: str):
    task = materialize_example(name, tmp_path / "ws")
    record = json.loads((hidden_dir(EXAMPLES_DIR / name) / "task.json").read_text())
    inst = Instance.model_validate(record)
    assert grade_gold(inst, Path(task.repo)) == []


@pytest.mark.parametrize("name", sorted(EXAMPLES))
def test_record_matches_the_project_files(tmp_path: Path, name: str):
    """task.json is generated (python -m envs.bundled_records); this catches a stale one."""
    project = EXAMPLES_DIR / name
    record = json.loads((hidden_dir(project) / "task.json").read_text())
    hidden = hidden_dir(project)
    assert record["test_patch"] == new_file_diff(HIDDEN_TEST_PATH,
                                                 (hidden / "test_hidden.py").read_text())
    assert record["patch"] == (hidden / "gold.patch").read_text()
    assert record["problem_statement"] == (project / "ISSUE.md").read_text().strip() + "\n"
    task = materialize_example(name, tmp_path / "ws")
    assert record["base_commit"] == task.base_commit  # same files, same pinned commit


def test_materialising_again_reuses_or_refuses(tmp_path: Path):
    first = materialize_example(DEMO, tmp_path / "ws")
    assert materialize_example(DEMO, tmp_path / "ws").base_commit == first.base_commit
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x").write_text("x")
    with pytest.raises(TaskSourceError, match="not empty"):
        materialize_example(DEMO, tmp_path / "other")
    with pytest.raises(TaskSourceError, match="no bundled example named 'nope'"):
        materialize_example("nope", tmp_path / "n")
