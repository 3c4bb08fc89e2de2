"""The repository a sandbox starts from: the base commit and its ancestors, nothing from
their future.

Whatever the source (a mirror, a user's repository, a clone of a GitHub issue's repository),
`export_base_repo` writes a fresh repository holding one branch (`main`) checked out at the
base commit, and one pack of exactly the objects reachable from it: no other branch, no
remote, no reflog, no stash, no FETCH_HEAD, no object of a later commit. A clone would carry
every ref, tag and object of the source; removing `origin` afterwards drops only the
remote-tracking refs, so the fix of the issue stays one `git log --all` away.

Tags that name ancestors of the base commit are kept, as lightweight tags (a name and a
commit; a tag object's message and date could postdate the base): version tools read them
(setuptools_scm, versioneer), and pytest's own `minversion = 2.0` fails every test of a
pytest checkout whose version fell back to 0.1.dev. The SWE-bench harness keeps them for the
same reason. Tags of later commits are never copied.

How, and why not a clone pruned afterwards: the new repository borrows the source's objects
through `objects/info/alternates`, `git pack-objects --revs` packs what the base commit
reaches, and the alternates file goes. Nothing is deleted, so nothing can be forgotten (the
source's refs, reflogs, `.keep` and `.promisor` packs, which `git gc` never prunes), and it is
the fastest way measured (benchmarks/history_prune_bench.py). The source is only read."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from sandbox.errors import SandboxError

BRANCH = "main"
GIT_TIMEOUT_S = 900  # packing the ancestors of a large repository on a slow disk
# The user's and the system's git config stay out: no template hooks, no autocrlf.
_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "GIT_TERMINAL_PROMPT": "0",
        "LC_ALL": "C"}  # fmt: skip
_GIT = ("git", "-c", "safe.directory=*", "-c", f"core.hooksPath={os.devnull}",
        "-c", "core.logAllRefUpdates=false")  # fmt: skip


class BaseRepoError(SandboxError):
    """The base commit could not be found in, or exported from, the source repository;
    `detail` holds git's reason."""

    def __init__(self, message: str, *, detail: str = "", hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.detail = detail


def is_git_repo(path: Path | str) -> bool:
    """A work tree (`.git` directory or file) or a bare git directory, without asking git,
    which would find an enclosing repository for a plain folder inside one."""
    path = Path(path)
    if (path / ".git").exists():
        return True
    return (path / "HEAD").is_file() and (path / "objects").is_dir()


def has_commits(source: Path | str) -> bool:
    try:
        resolve_commit(source)
    except BaseRepoError:
        return False
    return True


def resolve_commit(source: Path | str, rev: str = "HEAD") -> str:
    """The full sha of `rev` in `source` (a work tree or a bare git directory, even one
    without a `config` file, the layout of fetched snapshots)."""
    try:
        return _git(source, "rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").strip()
    except BaseRepoError as exc:
        raise BaseRepoError(f"cannot find commit {rev} in {source}: "
                            f"{exc.detail or 'no such commit'}") from exc


def export_base_repo(source: Path | str, dest: Path | str, commit: str = "HEAD", *,
                     checkout: bool = True) -> str:  # fmt: skip
    """Write a history-free repository at `commit` of `source` into `dest` (which must not
    exist, or be an empty directory) and return the commit's sha. `checkout=False` writes
    the `.git` only, its index read from the commit (for a tree whose files are elsewhere
    already: an official image's /testbed)."""
    source, dest = Path(source).resolve(), Path(dest)
    if dest.exists() and any(dest.iterdir()):
        raise BaseRepoError(f"cannot export a repository into {dest}: it is not empty")
    sha = resolve_commit(source, commit)
    objects = _objects_dir(source)
    tags = _tag_targets(source)
    created = not dest.exists()
    dest.mkdir(parents=True, exist_ok=True)
    try:
        _git(dest, "init", "-q", "--template=", ".")
        git_dir = dest / ".git"
        shallow = objects.parent / "shallow"
        if shallow.is_file():  # a shallow source: the walk must stop where its history does
            shutil.copyfile(shallow, git_dir / "shallow")
        alternates = git_dir / "objects" / "info" / "alternates"
        alternates.parent.mkdir(parents=True, exist_ok=True)
        alternates.write_text(f"{objects}\n")
        _git(dest, "pack-objects", "--revs", "--delta-base-offset", "-q",
             str(git_dir / "objects" / "pack" / "pack"), stdin=f"{sha}\n")
        alternates.unlink()
        if (git_dir / "shallow").is_file():
            _keep_present_shallow(dest, git_dir / "shallow")
        # The pack holds what the base commit reaches: a tag's commit in it is an ancestor.
        ancestors = _present(dest, sorted({target for _, target in tags}), "commit")
        refs = [f"create refs/heads/{BRANCH} {sha}",
                *(f"create refs/tags/{name} {target}" for name, target in tags
                  if target in ancestors)]
        _git(dest, "update-ref", "--stdin", stdin="\n".join(refs) + "\n")
        _git(dest, "symbolic-ref", "HEAD", f"refs/heads/{BRANCH}")
        if checkout:
            _git(dest, "checkout", "-q", "-f", BRANCH)
        else:  # the index only: `git status` there refreshes it against the files it finds
            _git(dest, "read-tree", BRANCH)
        shutil.rmtree(git_dir / "logs", ignore_errors=True)
    except BaseException:
        if created:
            shutil.rmtree(dest, ignore_errors=True)
        else:
            shutil.rmtree(dest / ".git", ignore_errors=True)
            for path in dest.iterdir():  # the checkout's files, had it begun
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path, ignore_errors=True)
                else:
                    path.unlink(missing_ok=True)
        raise
    return sha


def _objects_dir(source: Path) -> Path:
    common = _git(source, "rev-parse", "--git-common-dir").strip()
    return (source / common).resolve() / "objects"


def _tag_targets(source: Path) -> list[tuple[str, str]]:
    """(name, commit) of every tag of `source` that names a commit."""
    out = _git(source, "for-each-ref", "refs/tags",
               "--format=%(objecttype) %(objectname) %(*objecttype) %(*objectname) %(refname)")
    tags = []
    for line in out.splitlines():
        kind, target, peeled_kind, peeled, ref = (line.split(" ", 4) + [""] * 5)[:5]
        if kind == "tag":  # annotated: one level of peeling; a tag of a tag is skipped
            kind, target = peeled_kind, peeled
        if kind == "commit" and ref.startswith("refs/tags/"):
            tags.append((ref.removeprefix("refs/tags/"), target))
    return tags


def _present(dest: Path, shas: list[str], kind: str) -> set[str]:
    """Which of `shas` are objects of `kind` in `dest`: there, reachable from its base."""
    if not shas:
        return set()
    out = _git(dest, "cat-file", "--batch-check=%(objectname) %(objecttype)",
               stdin="\n".join(shas) + "\n")
    return {line.split()[0] for line in out.splitlines() if line.endswith(f" {kind}")}


def _keep_present_shallow(dest: Path, shallow: Path) -> None:
    """Boundary commits of other branches would name commits this repository lacks."""
    present = _present(dest, shallow.read_text().split(), "commit")
    if present:
        shallow.write_text("".join(f"{sha}\n" for sha in sorted(present)))
    else:
        shallow.unlink()


def _git(cwd: Path | str, *args: str, stdin: str | None = None) -> str:
    cwd = Path(cwd)
    if not cwd.is_dir():
        raise BaseRepoError(f"git {args[0]}: {cwd} is not a directory",
                            detail=f"{cwd} is not a directory")
    # A bare directory without `config` is not taken for a folder of an enclosing repo.
    env = {**os.environ, **_ENV, "GIT_CEILING_DIRECTORIES": str(cwd.resolve().parent)}
    for name in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
                 "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_NAMESPACE"):
        env.pop(name, None)
    try:
        proc = subprocess.run([*_GIT, *args], cwd=cwd, env=env, input=stdin,
                              capture_output=True, text=True, timeout=GIT_TIMEOUT_S,
                              check=False)  # fmt: skip
    except FileNotFoundError as exc:
        raise BaseRepoError("git is not installed on this host", hint="install git") from exc
    except subprocess.TimeoutExpired as exc:
        raise BaseRepoError(f"git {args[0]} in {cwd} took longer than {GIT_TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        detail = proc.stderr.strip()
        raise BaseRepoError(f"git {args[0]} failed in {cwd}: {detail or proc.returncode}",
                            detail=detail)
    return proc.stdout
