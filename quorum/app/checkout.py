"""A job's repository and Task: cloned with the installation token outside any sandbox, and
described like a local repository (the sandbox's copy is then exported from the clone by
`sandbox.base_repo`: the base commit and its ancestors only, no remote, no token).

The problem statement is built from cleaned text only (`sanitize.clean_untrusted`): the
issue's title, body and people's comments; for `/quorum fix`, the pull request's body, its
failing checks' output and its review comments."""

from __future__ import annotations

import shutil
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from envs.candidate import content_id
from envs.sources.local import slugify
from envs.task import Task
from quorum.app.github_ops import IssueThread, PullInfo, RepoClient
from quorum.app.sanitize import clean_untrusted
from sandbox.base_repo import has_commits, resolve_commit

PART_LIMIT = 12_000  # one comment, one body, one check's output
STATEMENT_LIMIT = 40_000


class Checkout(BaseModel):
    model_config = ConfigDict(extra="forbid")

    repo_dir: Path
    base_sha: str
    base_ref: str  # the branch the base commit is the head of (default branch, PR head)


def clone_once(client: RepoClient, repo_dir: Path, *, ref: str | None) -> str:
    """Clone into `repo_dir`, or keep the clone a resumed job made there (its run directory
    resumes from the same base commit). Returns the base commit."""
    if repo_dir.is_dir() and has_commits(repo_dir):
        return resolve_commit(repo_dir)
    shutil.rmtree(repo_dir, ignore_errors=True)  # a clone cut short
    repo_dir.parent.mkdir(parents=True, exist_ok=True)
    return client.clone(repo_dir, ref=ref)


def issue_statement(thread: IssueThread) -> str:
    """Title, body and the comments of people (not bots: Quorum's own replies stay out)."""
    parts = [f"# {clean_untrusted(thread.title, limit=300)}",
             clean_untrusted(thread.body, limit=PART_LIMIT) or "(no description)"]
    for comment in thread.comments:
        if comment.author_type == "Bot":
            continue
        text = clean_untrusted(comment.body, limit=PART_LIMIT)
        if text and not text.lstrip().startswith("/quorum"):
            parts.append(f"## Comment by {comment.author}\n\n{text}")
    return clean_untrusted("\n\n".join(parts), limit=STATEMENT_LIMIT) + "\n"


def fix_statement(pull: PullInfo, failing_checks: str, review_comments: str) -> str:
    """What is wrong with a pull request: its failing checks and its reviews."""
    parts = [f"# Fix pull request #{pull.number}: {clean_untrusted(pull.title, limit=300)}",
             clean_untrusted(pull.body, limit=PART_LIMIT) or "(no description)",
             "## Failing checks\n\n" + (clean_untrusted(failing_checks, limit=PART_LIMIT)
                                         or "(no failing check reported)"),
             "## Review comments\n\n" + (clean_untrusted(review_comments, limit=PART_LIMIT)
                                          or "(no review comments)"),
             "Make the failing checks pass and address the review comments."]
    return clean_untrusted("\n\n".join(parts), limit=STATEMENT_LIMIT) + "\n"


def job_task(checkout: Checkout, *, repo: str, number: int, statement: str, kind: str,
             setup: list[str], test_command: str | None) -> Task:
    """The Task of a job, as `envs.sources.local` describes a local repository."""
    task_id = "-".join((slugify(repo.replace("/", "-"), 30), f"{kind}-{number}",
                        content_id(repo, checkout.base_sha, statement, length=8)))
    extra = {"test_command": test_command} if test_command else {}
    return Task(id=task_id, repo=str(checkout.repo_dir), base_commit=checkout.base_sha,
                problem_statement=statement, source="local", setup=list(setup), **extra)
