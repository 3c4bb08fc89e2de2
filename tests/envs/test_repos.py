from pathlib import Path

import pytest

from envs.errors import CloneError
from envs.gitcmd import commit_all, git
from envs.repos import clone, clone_source, find_mirror, is_local_path
from tests.envs.conftest import make_repo


def test_local_paths_and_github_names():
    assert is_local_path("/abs/repo") and is_local_path("./rel") and is_local_path("~/x")
    assert not is_local_path("psf/requests")


@pytest.mark.parametrize("layout", ["psf+requests", "psf+requests.git", "psf/requests",
                                    "psf/requests.git"])
def test_mirror_layouts(tmp_path: Path, layout: str):
    (tmp_path / layout).mkdir(parents=True)
    assert find_mirror(tmp_path, "psf/requests") == tmp_path / layout
    assert clone_source("psf/requests", mirror_dir=tmp_path) == str(tmp_path / layout)


def test_mirror_with_the_git_directory_under_repo(tmp_path: Path):
    """The layout of snapshot fetches: owner+name/repo/{HEAD,objects,refs}."""
    git_dir = tmp_path / "psf+requests" / "repo"
    (git_dir / "objects").mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    assert find_mirror(tmp_path, "psf/requests") == git_dir


def test_missing_mirror_says_how_to_add_one(tmp_path: Path):
    with pytest.raises(CloneError, match="no mirror of psf/requests") as info:
        clone_source("psf/requests", mirror_dir=tmp_path)
    assert "git clone --bare" in (info.value.hint or "")


def test_clone_url_defaults_and_templates(tmp_path: Path):
    assert clone_source("psf/requests") == "https://github.com/psf/requests.git"
    template = "https://git.example/{owner}/{name}.git"
    assert clone_source("psf/requests", clone_url=template) == "https://git.example/psf/requests.git"
    assert clone_source(str(tmp_path)) == str(tmp_path.resolve())
    with pytest.raises(CloneError, match="does not exist"):
        clone_source(str(tmp_path / "gone"))
    with pytest.raises(CloneError, match="neither a local path nor owner/name"):
        clone_source("requests")


def test_clone_checks_out_an_older_commit(tmp_path: Path):
    src = tmp_path / "src"
    first = make_repo(src, {"a.txt": "1\n"})
    (src / "a.txt").write_text("2\n")
    second = commit_all(src, "two")
    assert clone(str(src), tmp_path / "head") == second
    assert clone(str(src), tmp_path / "old", commit=first) == first
    assert (tmp_path / "old" / "a.txt").read_text() == "1\n"
    assert git("status", "--porcelain", cwd=tmp_path / "old") == ""


def test_missing_commit_is_named(tmp_path: Path):
    src = tmp_path / "src"
    make_repo(src)
    with pytest.raises(CloneError, match="commit deadbeef is not in the repository"):
        clone(str(src), tmp_path / "dst", commit="deadbeef")


def test_clone_refuses_an_existing_destination(tmp_path: Path):
    make_repo(tmp_path / "src")
    (tmp_path / "dst").mkdir()
    with pytest.raises(CloneError, match="already exists"):
        clone(str(tmp_path / "src"), tmp_path / "dst")
