from pathlib import Path

import pytest

from envs.errors import DirtyWorkingTree, EmptyIssue, NotARepository
from envs.gitcmd import git
from envs.sources.local import issue_title, slugify, task_from_local

ISSUE = "# Crash when the config is empty\n\nSteps: run it with an empty file.\n"


def test_task_at_head_with_a_slug_id(repo: Path):
    task = task_from_local(repo, issue=ISSUE)
    assert task.base_commit == git("rev-parse", "HEAD", cwd=repo).strip()
    assert task.repo == str(repo.resolve())
    assert task.source == "local" and task.hidden is None
    assert task.problem_statement == ISSUE
    assert task.id.startswith("my-project-crash-when-the-config-is-empty-")
    assert len(task.id.rsplit("-", 1)[1]) == 8
    assert task_from_local(repo, issue=ISSUE).id == task.id  # stable


def test_issue_from_a_file(repo: Path, tmp_path: Path):
    issue = tmp_path / "issue.md"
    issue.write_text(ISSUE)
    assert task_from_local(repo, issue_file=issue).problem_statement == ISSUE


@pytest.mark.parametrize("text", ["", "  \n\t\n"])
def test_empty_issue(repo: Path, text: str):
    with pytest.raises(EmptyIssue, match="empty"):
        task_from_local(repo, issue=text)


def test_missing_issue_file(repo: Path, tmp_path: Path):
    with pytest.raises(EmptyIssue, match="cannot read"):
        task_from_local(repo, issue_file=tmp_path / "nope.md")


def test_not_a_repository(tmp_path: Path):
    plain = tmp_path / "plain"
    plain.mkdir()
    with pytest.raises(NotARepository, match="is not a git repository") as info:
        task_from_local(plain, issue=ISSUE)
    assert "git -C" in (info.value.hint or "")
    with pytest.raises(NotARepository, match="does not exist"):
        task_from_local(tmp_path / "missing", issue=ISSUE)


def test_a_folder_inside_a_repository_is_refused(repo: Path):
    with pytest.raises(NotARepository, match="not its root"):
        task_from_local(repo / "pkg", issue=ISSUE)


def test_repository_without_commits(tmp_path: Path):
    git("init", "-q", str(tmp_path / "fresh"))
    with pytest.raises(NotARepository, match="no commits"):
        task_from_local(tmp_path / "fresh", issue=ISSUE)


def test_dirty_tree_names_the_files(repo: Path):
    (repo / "README.md").write_text("changed\n")
    (repo / "new file.txt").write_text("x\n")
    (repo / "pkg" / "mod.py").unlink()
    with pytest.raises(DirtyWorkingTree) as info:
        task_from_local(repo, issue=ISSUE)
    assert sorted(info.value.files) == ["README.md", "new file.txt", "pkg/mod.py"]
    assert "README.md" in str(info.value) and "new file.txt" in str(info.value)
    assert task_from_local(repo, issue=ISSUE, allow_dirty=True).base_commit


def test_ignored_files_do_not_make_a_tree_dirty(repo: Path):
    (repo / ".gitignore").write_text("*.log\n")
    git("add", ".gitignore", cwd=repo, pinned=True)
    git("commit", "-qm", "ignore", cwd=repo, pinned=True)
    (repo / "run.log").write_text("noise\n")
    task_from_local(repo, issue=ISSUE)


def test_titles_and_slugs():
    assert issue_title("\n\n## Bug: `x` fails!\nbody") == "Bug: `x` fails!"
    assert slugify("Bug: `x` fails!") == "bug-x-fails"
    assert slugify("!!!") == "issue"
    assert len(slugify("word " * 50)) <= 40
