"""Where a repository's source comes from: a local path, a mirror of bare clones, or a URL.

`repo` is either a local path (a team's own instances, the bundled micro-tasks) or
`owner/name` on GitHub. Air-gapped machines pass a mirror directory holding bare clones
named `owner+name` or `owner/name` (optionally ending in `.git`), or such a folder holding
the git directory as `repo/` (the layout of snapshot fetches, `/work/.mirror`)."""

from __future__ import annotations

import shutil
from pathlib import Path

from envs.errors import CloneError
from envs.gitcmd import GitFailed, git

GITHUB = "https://github.com"


def is_local_path(repo: str) -> bool:
    """Paths are absolute or start with `.` or `~`; `owner/name` is never one."""
    return repo.startswith(("/", ".", "~")) or (len(repo) > 1 and repo[1] == ":")


def find_mirror(mirror_dir: Path | str, repo: str) -> Path | None:
    owner, _, name = repo.partition("/")
    root = Path(mirror_dir).expanduser()
    for rel in (f"{owner}+{name}", f"{owner}+{name}.git", f"{owner}/{name}", f"{owner}/{name}.git"):
        path = root / rel
        if (path / "repo" / "HEAD").is_file() and not (path / "HEAD").is_file():
            path = path / "repo"
        if path.is_dir():
            return path
    return None


def clone_source(repo: str, *, mirror_dir: Path | str | None = None,
                 clone_url: str | None = None) -> str:
    """The path or URL `git clone` should read `repo` from, in order of preference:
    a local path, the mirror, an explicit URL (`{owner}`, `{name}`, `{repo}` are filled in),
    then GitHub."""
    if is_local_path(repo):
        path = Path(repo).expanduser()
        if not path.is_dir():
            raise CloneError(f"repository path {path} does not exist")
        return str(path.resolve())
    owner, _, name = repo.partition("/")
    if not owner or not name:
        raise CloneError(f"repository {repo!r} is neither a local path nor owner/name")
    if mirror_dir is not None:
        found = find_mirror(mirror_dir, repo)
        if found is None:
            raise CloneError(
                f"no mirror of {repo} in {mirror_dir}",
                hint=f"add a bare clone: git clone --bare {GITHUB}/{repo}.git "
                f"{Path(mirror_dir) / f'{owner}+{name}'}",
            )
        return str(found)
    if clone_url:
        return clone_url.format(owner=owner, name=name, repo=repo)
    return f"{GITHUB}/{repo}.git"


def clone(source: str, dest: Path, *, commit: str | None = None) -> str:
    """Clone `source` into `dest` (which must not exist), check out `commit` (default: the
    remote's HEAD) detached, and return the checked-out sha."""
    dest = Path(dest)
    if dest.exists():
        raise CloneError(f"cannot clone into {dest}: it already exists")
    dest.parent.mkdir(parents=True, exist_ok=True)
    try:
        git("clone", "-q", "--no-checkout", source, str(dest))
    except GitFailed as exc:
        shutil.rmtree(dest, ignore_errors=True)
        raise CloneError(f"cannot clone {source}: {exc.stderr.strip() or exc}",
                         hint="check the URL, the network, or use a local mirror") from exc
    return checkout(dest, commit or "HEAD")


def update(repo_dir: Path) -> str:
    """Fetch the origin's HEAD into an existing clone and check it out; return the sha."""
    try:
        git("fetch", "-q", "origin", "HEAD", cwd=repo_dir)
    except GitFailed as exc:
        raise CloneError(f"cannot fetch into {repo_dir}: {exc.stderr.strip() or exc}",
                         hint=f"delete {repo_dir} to clone again") from exc
    return checkout(repo_dir, "FETCH_HEAD")


def checkout(repo_dir: Path, rev: str) -> str:
    try:
        sha = git("rev-parse", "--verify", "-q", f"{rev}^{{commit}}", cwd=repo_dir).strip()
    except GitFailed as exc:
        raise CloneError(f"commit {rev} is not in the repository at {repo_dir}",
                         hint="the clone or mirror may be too old: fetch it again") from exc
    git("checkout", "-q", "--force", "--detach", sha, cwd=repo_dir)
    git("clean", "-q", "-fdx", cwd=repo_dir)
    return sha


def read_at_commit(repo: Path | str, commit: str, path: str) -> str | None:
    """A file's text at `commit` in a (bare or working) clone; None where it is absent or
    not text."""
    try:
        return git("show", f"{commit}:{path}", cwd=repo)
    except (GitFailed, UnicodeDecodeError):
        return None
