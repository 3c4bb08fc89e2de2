"""What a selected patch may not publish: protected paths however they are spelled or reached
(a deletion, a rename out of the folder), and symbolic links, whose content read from disk
would be whatever file on the app's host they point to."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from quorum.app.publish import ProtectedPathError, PublishError, changed_files, is_protected
from tests.helpers.staged_diff import staged_diff
from tests.sandbox.conftest import make_repo

GIT = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]


def _repo_with_workflow(root: Path) -> tuple[Path, str]:
    repo = make_repo(root)
    (repo / ".github" / "workflows").mkdir(parents=True)
    (repo / ".github" / "workflows" / "ci.yml").write_text("on: push\n")
    subprocess.run([*GIT, "-C", str(repo), "add", "-A"], check=True)
    subprocess.run([*GIT, "-C", str(repo), "commit", "-qm", "ci"], check=True)
    head = subprocess.run(["git", "-C", str(repo), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()
    return repo, head


def _patch(repo: Path, *commands: list[str]) -> str:
    """The staged diff after running `commands` (argv) in a scratch clone."""

    def run(scratch: Path) -> None:
        for argv in commands:
            subprocess.run(argv, cwd=scratch, check=True)

    return staged_diff(repo, run)


def test_a_symlink_to_a_host_file_is_refused_and_its_target_never_read(tmp_path: Path) -> None:
    repo, base = _repo_with_workflow(tmp_path / "repo")
    secret = tmp_path / "host-secret.txt"
    secret.write_text("OPENAI_API_KEY=sk-host-only-value\n")
    patch = _patch(repo, ["ln", "-s", str(secret), "leak.txt"])
    assert "new file mode 120000" in patch
    with pytest.raises(PublishError, match="symbolic link") as caught:
        changed_files(repo, base, patch, [".github/workflows/"])
    assert "sk-host-only-value" not in str(caught.value)


def test_a_symlink_into_the_workflows_folder_is_refused(tmp_path: Path) -> None:
    repo, base = _repo_with_workflow(tmp_path / "repo")
    patch = _patch(repo, ["ln", "-s", ".github/workflows/ci.yml", "ci-link.yml"])
    with pytest.raises(PublishError, match="symbolic link"):
        changed_files(repo, base, patch, [".github/workflows/"])


def test_an_executable_file_is_published_from_its_staged_content(tmp_path: Path) -> None:
    repo, base = _repo_with_workflow(tmp_path / "repo")
    patch = _patch(repo, ["sh", "-c", "printf 'echo hi\\n' > run.sh && chmod +x run.sh"])
    assert changed_files(repo, base, patch, [".github/workflows/"]) == {"run.sh": "echo hi\n"}


@pytest.mark.parametrize("commands", [
    [["rm", ".github/workflows/ci.yml"]],
    [["git", "mv", ".github/workflows/ci.yml", "ci.yml"]],
    [["sh", "-c", "echo 'on: pull_request' > .github/workflows/ci.yml"]],
    [["sh", "-c", "echo 'on: push' > .github/workflows/new.yaml"]],
], ids=["deleted", "renamed-out", "changed", "added"])
def test_every_way_of_touching_the_workflows_is_refused(tmp_path: Path,
                                                        commands: list[list[str]]) -> None:
    repo, base = _repo_with_workflow(tmp_path / "repo")
    patch = _patch(repo, *commands)
    with pytest.raises(ProtectedPathError, match=r"\.github/workflows/"):
        changed_files(repo, base, patch, [".github/workflows/"])


def test_rules_hold_however_path_or_rule_is_spelled() -> None:
    for rule in (".github/workflows/", ".github/workflows", "./.github/workflows",
                 ".github//workflows/", ".GitHub/Workflows/"):
        assert is_protected(".github/workflows/ci.yml", [rule]), rule
    for path in ("./.github/workflows/x.yml", ".github//workflows/x.yml",
                 ".GITHUB/workflows/x.yml", ".github/workflows"):
        assert is_protected(path, [".github/workflows/"]), path
    assert is_protected("secrets/prod/key.txt", ["secrets"])  # a folder named without "/"
    assert is_protected("Deploy/Go.sh", ["deploy/*.sh"])
    assert not is_protected(".github/workflows-old/a.yml", [".github/workflows"])
    assert not is_protected("pkg/secrets.py", ["secrets"])
