"""No future in any sandbox: a repository with history after its base commit (a "fix"
commit, later tags, other branches, refs/pull, notes, a stash, reflog entries) is seen from
inside every kind of sandbox as the base commit and its ancestors only. Grading the fix in
the instance image still resolves the instance, and no patch still does not."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from envs.environment import EnvironmentBuilder
from envs.instances import Instance
from envs.specs import spec_for
from envs.task import Task
from quorum.evaluate import EMPTY, GOLD, EvalOptions, evaluate, special_predictions
from quorum.sandboxes import sandbox_factory
from sandbox.base_repo import export_base_repo
from sandbox.config import HOST_CA_BUNDLE, DockerSandboxConfig, SnapshotSpec
from sandbox.local import LocalSandbox
from sandbox.protocol import Sandbox
from sandbox.provider import DockerProvider
from tests.helpers.future_history import (
    FIXED,
    History,
    assert_no_future,
    build_history,
)


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> History:
    return build_history(tmp_path_factory.mktemp("future") / "calc")


@pytest.fixture(scope="module")
def mirror(history: History, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The same history as a bare mirror without a config file (a fetched snapshot)."""
    path = tmp_path_factory.mktemp("mirror") / "owner+calc" / "repo"
    subprocess.run(["git", "clone", "-q", "--mirror", str(history.root), str(path)], check=True)
    (path / "config").unlink()
    return path


def source_state(root: Path) -> str:
    """Everything a solve must leave untouched in the user's repository."""
    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True,
                              check=True).stdout
    return (git("for-each-ref") + git("stash", "list") + git("status", "--porcelain")
            + git("count-objects", "-v") + git("reflog", "--all"))


# --- the one function, and the local backend ----------------------------------------------


@pytest.mark.parametrize("layout", ["work tree", "bare mirror"])
def test_local_sandbox_holds_no_future(history: History, mirror: Path, layout: str) -> None:
    source = history.root if layout == "work tree" else mirror
    before = source_state(history.root)
    with LocalSandbox(source, commit=history.base, warn=False) as box:
        assert_no_future(box, history)
    assert source_state(history.root) == before  # the user's repository is not modified


def test_local_backend_of_a_solve_holds_no_future(history: History) -> None:
    task = Task(id="calc-1", repo=str(history.root), base_commit=history.base,
                problem_statement="add subtracts")
    with sandbox_factory(task, "local", run_id="pytest-future") as make, make() as box:
        assert_no_future(box, history)


def test_export_refuses_a_missing_commit_and_cleans_up(history: History, tmp_path: Path) -> None:
    from sandbox.base_repo import BaseRepoError

    with pytest.raises(BaseRepoError, match="cannot find commit"):
        export_base_repo(history.root, tmp_path / "out", "0" * 40)
    assert not (tmp_path / "out").exists()


def test_a_git_only_export_writes_no_files_and_its_index_matches_the_tree(
        history: History, tmp_path: Path) -> None:
    """For a tree already in place (an official image's /testbed): .git alone, whose
    index says the files as the base commit has them are unchanged."""
    out = tmp_path / "out"
    sha = export_base_repo(history.root, out, history.base, checkout=False)
    assert sorted(p.name for p in out.iterdir()) == [".git"]

    def git(*args: str) -> str:
        return subprocess.run(["git", "-C", str(out), *args], capture_output=True, text=True,
                              check=True).stdout  # fmt: skip

    assert git("rev-parse", "HEAD").strip() == sha == history.base
    assert "pkg/calc.py" in git("ls-files").split()
    subprocess.run(["git", "-C", str(out), "checkout-index", "-a"], check=True)  # files arrive
    assert git("status", "--porcelain") == ""
    (out / "pkg" / "calc.py").write_text(FIXED)
    assert git("status", "--porcelain").split() == ["M", "pkg/calc.py"]


def test_a_shallow_source_exports_its_history(history: History, tmp_path: Path) -> None:
    shallow = tmp_path / "shallow"
    subprocess.run(["git", "clone", "-q", "--depth=1", "--no-local", str(history.root),
                    str(shallow)], check=True, capture_output=True)
    assert (shallow / ".git" / "shallow").is_file()
    sha = export_base_repo(shallow, tmp_path / "out")
    out = subprocess.run(["git", "-C", str(tmp_path / "out"), "fsck", "--no-progress"],
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert (tmp_path / "out" / "pkg" / "calc.py").read_text() == FIXED
    assert (tmp_path / "out" / ".git" / "shallow").read_text() == f"{sha}\n"
    assert sha == subprocess.run(["git", "-C", str(shallow), "rev-parse", "HEAD"],
                                 capture_output=True, text=True).stdout.strip()


# --- Docker: the solving sandbox, the snapshot of a mirror, the instance image, grading --


@pytest.fixture(scope="module")
def provider(docker_client) -> Iterator[DockerProvider]:
    provider = DockerProvider(docker_client, run_id="pytest-future")
    yield provider
    provider.close_all()


def started(provider: DockerProvider, image: str) -> Callable[[], Sandbox]:
    return lambda: provider.start(DockerSandboxConfig(image=image))


@pytest.mark.docker
def test_docker_solving_sandbox_holds_no_future(history: History, docker_client) -> None:
    task = Task(id="calc-1", repo=str(history.root), base_commit=history.base,
                problem_statement="add subtracts")
    before = source_state(history.root)
    with sandbox_factory(task, "docker", run_id="pytest-future") as make, make() as box:
        assert_no_future(box, history)
    assert source_state(history.root) == before


@pytest.mark.docker
def test_docker_snapshot_of_a_bare_mirror_holds_no_future(history: History, mirror: Path,
                                                          provider: DockerProvider,
                                                          base_image: str) -> None:
    tag = provider.snapshot(SnapshotSpec(base_image=base_image, source=mirror,
                                         commit=history.base))
    with started(provider, tag)() as box:
        assert_no_future(box, history)


@pytest.fixture(scope="module")
def instance(history: History, tmp_path_factory: pytest.TempPathFactory) -> Instance:
    # A copy: the tests above must not see the instance's env image built over their repo.
    repo = tmp_path_factory.mktemp("instance") / "calc"
    shutil.copytree(history.root, repo, symlinks=True)
    return Instance(instance_id="calc__future-1", repo=str(repo), base_commit=history.base,
                    problem_statement="add subtracts", patch=history.patch,
                    test_patch=history.test_patch,
                    FAIL_TO_PASS=["tests/test_calc.py::test_add"],
                    PASS_TO_PASS=["tests/test_calc.py::test_sub"])


@pytest.mark.docker
def test_instance_image_holds_no_future_and_grading_is_unchanged(
        history: History, instance: Instance, provider: DockerProvider,
        tmp_path_factory: pytest.TempPathFactory) -> None:
    cache = tmp_path_factory.mktemp("cache")
    # The bundle: the environment may not be built yet (a new key), and pip needs it here.
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    builder = EnvironmentBuilder(provider, cache_dir=cache, ca_bundle=bundle)
    image = builder.instance_image(instance, spec_for(instance), cache / "build.log")
    with started(provider, image)() as box:
        assert_no_future(box, history)
    for kind, resolved in ((GOLD, [instance.instance_id]), (EMPTY, [])):
        out = cache / kind
        report = evaluate([instance], special_predictions([instance], kind),
                          EvalOptions(out=out, workers=1, ca_bundle=bundle, cache_dir=cache,
                                      timeout_s=300), allow_empty=True)
        logs = [p.read_text() for p in (out / "instances").glob("*/eval.log")]
        assert report["resolved_ids"] == resolved, logs
        assert report["error_instances"] == 0
