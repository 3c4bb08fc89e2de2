"""A Task from a repository on this machine and an issue written as text or in a file."""

from __future__ import annotations

import re
from pathlib import Path

from envs.candidate import content_id
from envs.errors import DirtyWorkingTree, EmptyIssue, NotARepository
from envs.gitcmd import GitFailed, git
from envs.task import Task

MAX_NAMED_FILES = 10


def read_issue(text: str | None = None, file: Path | str | None = None) -> str:
    """The issue's text from exactly one of `text` or `file`; blank text is an error."""
    if (text is None) == (file is None):
        raise EmptyIssue("give the issue either as text or as a file, not both or neither")
    if file is not None:
        path = Path(file).expanduser()
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise EmptyIssue(f"cannot read the issue file {path}: {exc.strerror}") from exc
    assert text is not None
    if not text.strip():
        where = f"the issue file {file}" if file is not None else "the issue"
        raise EmptyIssue(f"{where} is empty", hint="describe the problem to solve")
    return text.strip() + "\n"


def issue_title(text: str) -> str:
    first = next((line for line in text.splitlines() if line.strip()), "")
    return first.strip().lstrip("#").strip()


def slugify(text: str, max_len: int = 40) -> str:
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
    return slug[:max_len].rstrip("-") or "issue"


def repo_root(path: Path | str) -> Path:
    """The repository's root; `path` must be that root, not a folder inside another repo."""
    path = Path(path).expanduser()
    if not path.exists():
        raise NotARepository(f"{path} does not exist")
    if not path.is_dir():
        raise NotARepository(f"{path} is not a directory")
    path = path.resolve()
    try:
        top = Path(git("rev-parse", "--show-toplevel", cwd=path).strip()).resolve()
    except GitFailed as exc:
        raise NotARepository(
            f"{path} is not a git repository",
            hint=f"run: git -C {path} init && git -C {path} add -A && "
            f"git -C {path} commit -m base",
        ) from exc
    if top != path:
        raise NotARepository(
            f"{path} is inside the git repository {top} but is not its root",
            hint=f"pass {top}, or make {path} a repository of its own",
        )
    return path


def head_commit(root: Path) -> str:
    try:
        return git("rev-parse", "--verify", "-q", "HEAD^{commit}", cwd=root).strip()
    except GitFailed as exc:
        raise NotARepository(f"the repository {root} has no commits yet",
                             hint="commit the code to start from") from exc


def changed_files(root: Path) -> list[str]:
    """Modified, staged, deleted and untracked (not ignored) paths: none of them is in HEAD."""
    out = git("status", "--porcelain=v1", "-z", "--untracked-files=all", cwd=root)
    entries = out.split("\0")
    files, i = [], 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if not entry:
            continue
        files.append(entry[3:])
        if entry[0] in "RC":  # renames and copies carry the old path next
            i += 1
    return files


def task_from_local(repo: Path | str, *, issue: str | None = None,
                    issue_file: Path | str | None = None, allow_dirty: bool = False) -> Task:
    """Validate the repository and the issue, then describe them as a Task at HEAD.

    With `allow_dirty`, uncommitted changes are tolerated but are not part of the base
    commit: the Task starts from HEAD."""
    root = repo_root(repo)
    text = read_issue(issue, issue_file)
    base = head_commit(root)
    dirty = changed_files(root)
    if dirty and not allow_dirty:
        named = ", ".join(dirty[:MAX_NAMED_FILES])
        more = f" and {len(dirty) - MAX_NAMED_FILES} more" if len(dirty) > MAX_NAMED_FILES else ""
        raise DirtyWorkingTree(
            f"the working tree of {root} has uncommitted changes: {named}{more}",
            files=dirty,
            hint="commit or stash them (the task starts from the last commit), "
            "or allow a dirty tree explicitly",
        )
    task_id = "-".join((slugify(root.name, 30), slugify(issue_title(text)),
                        content_id(str(root), base, text, length=8)))
    return Task(id=task_id, repo=str(root), base_commit=base, problem_statement=text,
                source="local")
