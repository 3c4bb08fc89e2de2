"""A repository with history after its base commit (a "fix" commit, later tags, other
branches, refs/pull, notes, a stash, reflog entries), and the check that a sandbox sees the
base commit and its ancestors only."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from sandbox.protocol import Sandbox

BUGGY = "def add(a, b):\n    return a - b\n\n\ndef sub(a, b):\n    return a - b\n"
FIXED = BUGGY.replace("return a - b\n\n\ndef sub", "return a + b\n\n\ndef sub")
TESTS = "from pkg.calc import sub\n\n\ndef test_sub():\n    assert sub(3, 1) == 2\n"
NEW_TEST = "\n\ndef test_add():\n    from pkg.calc import add\n    assert add(2, 2) == 4\n"
PYPROJECT = """[build-system]
requires = ["setuptools"]
build-backend = "setuptools.build_meta"

[project]
name = "calc"
version = "0.1"

[tool.setuptools]
packages = ["pkg"]
"""
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
    # installable (`pip install .`, as SWE-bench specs do), its build output ignored
    h.write("pyproject.toml", PYPROJECT)
    h.write(".gitignore", "build/\n*.egg-info/\n*.so\n")
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
