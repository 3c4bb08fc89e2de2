"""No future in any sandbox: a repository with history after its base commit (a "fix"
commit, later tags, other branches, refs/pull, notes, a stash, reflog entries) is seen from
inside every kind of sandbox as the base commit and its ancestors only. Grading the fix in
the instance image still resolves the instance, and no patch still does not."""

from __future__ import annotations

import os
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

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
FIXED = BUGGY.replace("return a - b\n\n\ndef sub", "return a + b\n\n\ndef sub")
TESTS = "from pkg.calc import sub\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n"
NEW_TEST = "\n\ndef test_add():\n    from pkg.calc import add\n    assert add(2, 2) == 4\n"
SECRET = "fixed-in-the-future"  # only in the future's commits, blobs and messages


class History:
    """The synthetic repository and what is known of its past and future."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.base = ""
        self.past: set[str] = set()  # the base commit and its ancestors
        self.future: dict[str, str] = {}  # what -> sha of an object no sandbox may hold
        self.patch = self.test_patch = ""

    def git(self, *args: str, input: str | None = None) -> str:
        env = {**os.environ, "GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1",
               "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@t",
               "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@t"}
        return subprocess.run(["git", "-C", str(self.root), *args], check=True, text=True,
                              capture_output=True, env=env, input=input).stdout.strip()

    def write(self, rel: str, text: str) -> None:
        (self.root / rel).parent.mkdir(parents=True, exist_ok=True)
        (self.root / rel).write_text(text)

    def commit(self, message: str) -> str:
        self.git("add", "-A")
        self.git("commit", "-q", "-m", message)
        return self.git("rev-parse", "HEAD")


def build_history(root: Path) -> History:
    root.mkdir(parents=True)
    h = History(root)
    h.git("init", "-q", "-b", "main")
    h.write("pkg/__init__.py", "")
    h.write("pkg/calc.py", BUGGY)
    h.write("tests/test_calc.py", TESTS)
    first = h.commit("calc")
    h.git("tag", "-a", "v0.1", "-m", "first release")  # a past tag: kept, as a name only
    h.write("README.md", "calc\n")
    h.base = h.commit("readme")
    h.past = {first, h.base}
    # a side branch and a pull-request ref, both after the base
    h.git("checkout", "-q", "-b", "feature")
    h.write("pkg/extra.py", f"# {SECRET} (feature)\n")
    h.future["feature commit"] = h.commit(f"feature: {SECRET}")
    h.future["feature blob"] = h.git("rev-parse", "HEAD:pkg/extra.py")
    h.git("update-ref", "refs/pull/1/head", h.future["feature commit"])
    h.git("checkout", "-q", "main")
    # the fix, tagged, with a note on the base commit
    h.write("pkg/calc.py", FIXED)
    h.write("tests/test_calc.py", TESTS + NEW_TEST)
    h.future["fix commit"] = h.commit(f"fix add: {SECRET}")
    h.future["fix blob"] = h.git("rev-parse", "HEAD:pkg/calc.py")
    h.git("tag", "-a", "v1.0", "-m", f"release {SECRET}")
    h.future["tag object"] = h.git("rev-parse", "refs/tags/v1.0")
    h.git("tag", "v1.0-light")
    h.git("notes", "add", "-m", f"note {SECRET}", h.base)
    h.future["notes commit"] = h.git("rev-parse", "refs/notes/commits")
    # a stash of uncommitted work, then a reset that leaves the fix in the reflog only
    h.write("pkg/calc.py", FIXED + f"# {SECRET} (stash)\n")
    h.git("stash", "-q")
    h.future["stash"] = h.git("rev-parse", "refs/stash")
    h.patch = h.git("diff", h.base, h.future["fix commit"], "--", "pkg") + "\n"
    h.test_patch = h.git("diff", h.base, h.future["fix commit"], "--", "tests") + "\n"
    return h


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


def assert_no_future(box: Sandbox, h: History) -> None:
    def sh(cmd: str, *, ok: bool = True) -> str:
        result = box.exec(f"git -c safe.directory='*' {cmd}", timeout=60)
        assert result.ok is ok, f"git {cmd}: {result.output}"
        return result.stdout

    assert set(sh("log --all --format=%H").split()) == h.past
    assert sh("rev-parse HEAD").strip() == h.base == box.base_commit
    assert sh("branch -a --format='%(refname) %(objectname)'").split("\n")[:-1] == [
        f"refs/heads/main {h.base}"]
    assert sh("symbolic-ref HEAD").strip() == "refs/heads/main"
    # past release tags stay, as names of ancestors (version tools need them); no later one
    assert sh("tag").split() == ["v0.1"]
    assert sh("cat-file -t v0.1").strip() == "commit"
    assert sh("for-each-ref --format='%(refname)'").split() == ["refs/heads/main",
                                                                  "refs/tags/v0.1"]
    assert sh("remote").strip() == ""
    assert sh("stash list").strip() == ""
    assert set(sh("reflog --all --format=%H").split()) <= h.past
    for what, sha in h.future.items():
        result = box.exec(f"git -c safe.directory='*' cat-file -e {sha}", timeout=60)
        assert not result.ok, f"the {what} {sha} is in the sandbox"
    assert sh(f"log --all -S{SECRET} --format=%H").strip() == ""
    assert sh(f"log --all --grep={SECRET} --format=%H").strip() == ""
    # every object is reachable from the base commit: nothing unreachable, nothing loose
    assert sh("fsck --unreachable --no-reflogs --no-progress").strip() == ""
    counts = dict(line.split(": ") for line in sh("count-objects -v").splitlines())
    reachable = len(sh(f"rev-list --objects {h.base}").splitlines())
    assert (int(counts["count"]), int(counts["in-pack"])) == (0, reachable)
    grep = box.exec(f"grep -rl {SECRET} . || true", timeout=60).stdout  # FETCH_HEAD, packs...
    assert grep.strip() == ""
    assert not box.exec("test -e .git/FETCH_HEAD -o -e .git/ORIG_HEAD -o -d .git/logs",
                        timeout=60).ok
    # the work tree is the base commit's, clean
    assert box.read_file("pkg/calc.py").decode() == BUGGY
    assert sh("status --porcelain").strip() == ""


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
    builder = EnvironmentBuilder(provider, cache_dir=cache)
    image = builder.instance_image(instance, spec_for(instance), cache / "build.log")
    with started(provider, image)() as box:
        assert_no_future(box, history)
    bundle = HOST_CA_BUNDLE if HOST_CA_BUNDLE.is_file() else None
    for kind, resolved in ((GOLD, [instance.instance_id]), (EMPTY, [])):
        out = cache / kind
        report = evaluate([instance], special_predictions([instance], kind),
                          EvalOptions(out=out, workers=1, ca_bundle=bundle, cache_dir=cache,
                                      timeout_s=300), allow_empty=True)
        logs = [p.read_text() for p in (out / "instances").glob("*/eval.log")]
        assert report["resolved_ids"] == resolved, logs
        assert report["error_instances"] == 0
