"""Everything the App reads from and writes to one repository, each a documented REST call
(githubkit underneath), and the clone with the installation token.

Writes go through the Git Database API (blobs, tree, commit, ref), so the App never pushes
from a working tree: the commit holds exactly the files it was given. Errors become
`GitHubError`, a plain message naming the status and what was asked, never a token."""

from __future__ import annotations

import base64
import os
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from githubkit.exception import RequestError, RequestFailed
from pydantic import BaseModel, ConfigDict, ValidationError

from agent.redact import redact
from envs.sources.github_client import API_VERSION, github_client
from sandbox.errors import QuorumError

PER_PAGE = 100
MAX_PAGES = 20  # 2,000 comments: more than any issue a person could read
FAILING = {"failure", "timed_out", "cancelled", "action_required", "startup_failure"}
CLONE_TIMEOUT_S = 900
TEXT_MODE, EXEC_MODE = "100644", "100755"


class GitHubError(QuorumError):
    """GitHub refused or did not answer; `status` is the HTTP status when there was one."""

    def __init__(self, message: str, *, status: int | None = None,
                 hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.status = status


class Comment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    id: int
    author: str
    author_type: str
    body: str


class IssueThread(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int
    title: str
    body: str
    author: str
    author_type: str
    comments: list[Comment]
    is_pull: bool


class PullInfo(BaseModel):
    model_config = ConfigDict(extra="forbid")

    number: int
    head_ref: str
    head_sha: str
    head_repo: str  # "owner/name"; differs from the base repository for a fork
    base_ref: str
    title: str
    body: str


def git_base_from_api(api_url: str) -> str:
    """Where git clones from, given the REST API's URL: api.github.com -> github.com,
    GitHub Enterprise's HOST/api/v3 -> HOST; any other URL (the stand-in, which serves the
    API and git on one base) is its own git base."""
    parts = urlsplit(api_url.rstrip("/"))
    host, path = parts.netloc, parts.path
    if host.lower() == "api.github.com":
        host = "github.com"
    elif path.endswith("/api/v3"):
        path = path.removesuffix("/api/v3")
    return urlunsplit((parts.scheme, host, path, "", ""))


def git_auth_header(token: str) -> str:
    """The header git sends: Basic with `x-access-token` (as actions/checkout does), which
    GitHub accepts for installation tokens over HTTPS."""
    pair = base64.b64encode(f"x-access-token:{token}".encode()).decode()
    return f"Authorization: Basic {pair}"


def _user(data: dict[str, Any] | None) -> tuple[str, str]:
    user = data or {}
    return str(user.get("login") or "ghost"), str(user.get("type") or "User")


def _bounded(parts: list[str], limit: int) -> str:
    text = "\n\n".join(p for p in parts if p)
    if len(text) <= limit:
        return text
    return text[: max(0, limit - 40)].rstrip() + "\n[... truncated]"


class RepoClient:
    """One repository ("owner/name") on one GitHub API; `token_source` is asked before every
    request, so a refreshed installation token is used as soon as there is one."""

    def __init__(self, api_url: str, token_source: Callable[[], str], repo: str, *,
                 clone_base: str | None = None) -> None:
        owner, _, name = repo.partition("/")
        if not owner or not name or "/" in name:
            raise GitHubError(f"repository {repo!r} is not owner/name")
        self.api_url = api_url.rstrip("/")
        self.repo, self.owner, self.name = repo, owner, name
        self.clone_base = (clone_base or git_base_from_api(self.api_url)).rstrip("/")
        self._token_source = token_source
        self._gh = github_client(self.api_url, token_source)  # the namespace holds it weakly
        self._rest = self._gh.rest(API_VERSION)

    # --- plumbing -------------------------------------------------------------------------
    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        """One REST call; its JSON answer (None for 204), or GitHubError saying `what`."""
        try:
            resp = fn(self.owner, self.name, *args, **kwargs)
        except RequestFailed as exc:
            status = exc.response.status_code
            message = _error_message(exc.response.raw_response)
            detail = f": {redact(message)}" if message else ""
            raise GitHubError(f"GitHub answered {status} to {what} in {self.repo}{detail}",
                              status=status, hint=_hint(status)) from None
        except RequestError as exc:
            if isinstance(exc.exc, QuorumError):  # the token source failed: say why
                raise exc.exc from None
            cause = type(exc.exc).__name__ if isinstance(exc.exc, Exception) else "error"
            raise GitHubError(f"cannot reach GitHub at {self.api_url} to {what} ({cause})",
                              hint="check the network and QUORUM_GITHUB_API_URL") from None
        except ValidationError as exc:  # githubkit checks bodies against GitHub's schema first
            first = exc.errors()[0]
            where = ".".join(str(p) for p in first.get("loc", ()))
            raise GitHubError(f"invalid request to {what} in {self.repo}: {where}: "
                              f"{first.get('msg')}") from None
        raw = resp.raw_response
        return raw.json() if raw.content else None

    def _pages(self, what: str, fn: Callable[..., Any], *args: Any,
               key: str | None = None, **kwargs: Any) -> Iterator[dict[str, Any]]:
        for page in range(1, MAX_PAGES + 1):
            data = self._call(what, fn, *args, per_page=PER_PAGE, page=page, **kwargs)
            items = (data or {}).get(key, []) if key else (data or [])
            yield from items
            if len(items) < PER_PAGE:
                return

    # --- reads ----------------------------------------------------------------------------
    def permission(self, user: str) -> str:
        """The user's role: "admin"|"maintain"|"write"|"triage"|"read"|"none"."""
        rest = self._rest.repos
        try:
            data = self._call(f"read {user}'s permission",
                              rest.get_collaborator_permission_level, user)
        except GitHubError as exc:
            if exc.status == 404:  # not a user GitHub knows in this repository
                return "none"
            raise
        roles = ("admin", "maintain", "write", "triage", "read")
        role = str(data.get("role_name") or "")  # an org's custom role: use the base permission
        if role in roles:
            return role
        legacy = str(data.get("permission") or "none")
        return legacy if legacy in roles else "none"

    def issue_thread(self, number: int) -> IssueThread:
        issues = self._rest.issues
        data = self._call(f"read issue #{number}", issues.get, number)
        comments = [
            Comment(id=c["id"], author=_user(c.get("user"))[0], author_type=_user(c.get("user"))[1],
                    body=c.get("body") or "")
            for c in self._pages(f"read the comments of #{number}", issues.list_comments, number)
        ]
        author, author_type = _user(data.get("user"))
        return IssueThread(number=number, title=data.get("title") or "",
                           body=data.get("body") or "", author=author, author_type=author_type,
                           comments=comments, is_pull=bool(data.get("pull_request")))

    def default_branch(self) -> tuple[str, str]:
        """(branch name, head sha) of the repository's default branch."""
        repo = self._call("read the repository", self._rest.repos.get)
        branch = repo["default_branch"]
        ref = self._call(f"read branch {branch}", self._rest.git.get_ref, f"heads/{branch}")
        return branch, ref["object"]["sha"]

    def pull(self, number: int) -> PullInfo:
        data = self._call(f"read pull request #{number}", self._rest.pulls.get, number)
        head, base = data["head"], data["base"]
        return PullInfo(number=number, head_ref=head["ref"], head_sha=head["sha"],
                        head_repo=(head.get("repo") or {}).get("full_name") or "",
                        base_ref=base["ref"], title=data.get("title") or "",
                        body=data.get("body") or "")

    def failing_checks_text(self, sha: str, limit: int = 20_000) -> str:
        """The failing check runs on `sha`: name, conclusion and their output, bounded."""
        runs = self._pages(f"read the check runs of {sha[:12]}",
                           self._rest.checks.list_for_ref, sha, key="check_runs")
        parts = []
        for run in runs:
            if run.get("conclusion") not in FAILING:
                continue
            out = run.get("output") or {}
            text = "\n".join(s for s in (out.get("title"), out.get("summary"), out.get("text"))
                             if s)
            parts.append(f"### check `{run.get('name')}`: {run.get('conclusion')}\n{text}".strip())
        return _bounded(parts, limit)

    def review_comments_text(self, number: int, limit: int = 20_000) -> str:
        """The pull request's reviews and line comments, oldest first, bounded."""
        pulls = self._rest.pulls
        parts = []
        for review in self._pages(f"read the reviews of #{number}", pulls.list_reviews, number):
            if review.get("body"):
                who = _user(review.get("user"))[0]
                parts.append(f"review by {who} ({review.get('state')}):\n{review['body']}")
        for c in self._pages(f"read the review comments of #{number}",
                             pulls.list_review_comments, number):
            who = _user(c.get("user"))[0]
            where = f"{c.get('path')}:{c.get('line') or c.get('original_line') or '?'}"
            parts.append(f"{who} on {where}:\n{c.get('body') or ''}")
        return _bounded(parts, limit)

    # --- writes ---------------------------------------------------------------------------
    def comment(self, number: int, body: str) -> int:
        data = self._call(f"comment on #{number}", self._rest.issues.create_comment,
                          number, body=body)
        return int(data["id"])

    def react_to_issue(self, number: int, content: str) -> None:
        self._call(f"react to #{number}", self._rest.reactions.create_for_issue,
                   number, content=content)

    def react_to_comment(self, comment_id: int, content: str) -> None:
        self._call(f"react to comment {comment_id}",
                   self._rest.reactions.create_for_issue_comment, comment_id, content=content)

    def create_check_run(self, name: str, head_sha: str, *, status: str = "queued") -> int:
        data = self._call(f"create check run {name!r}", self._rest.checks.create,
                          name=name, head_sha=head_sha, status=status)
        return int(data["id"])

    def update_check_run(self, check_id: int, *, status: str, conclusion: str | None = None,
                         title: str = "", summary: str = "") -> None:
        body: dict[str, Any] = {"status": status}
        if conclusion is not None:
            body["conclusion"] = conclusion
        if title or summary:  # GitHub wants both when there is an output
            body["output"] = {"title": title or status, "summary": summary or title}
        self._call(f"update check run {check_id}", self._rest.checks.update, check_id,
                   data=body)

    def commit_files(self, *, parent_sha: str, files: dict[str, str | None], message: str) -> str:
        """One commit on `parent_sha` with `files` written (None deletes a path): blobs, a tree
        on the parent's tree, the commit. Returns the commit's sha; no ref moves."""
        git = self._rest.git
        parent = self._call(f"read commit {parent_sha[:12]}", git.get_commit, parent_sha)
        base_tree = parent["tree"]["sha"]
        modes = self._modes(base_tree) if files else {}
        entries: list[dict[str, Any]] = []
        for path, content in sorted(files.items()):
            mode = modes.get(path, TEXT_MODE)
            if content is None:
                entries.append({"path": path, "mode": mode, "type": "blob", "sha": None})
                continue
            blob = self._call(f"store {path}", git.create_blob, content=content,
                              encoding="utf-8")
            entries.append({"path": path, "mode": mode, "type": "blob", "sha": blob["sha"]})
        tree = self._call("create a tree", git.create_tree,
                          data={"base_tree": base_tree, "tree": entries})
        commit = self._call("create a commit", git.create_commit, message=message,
                            tree=tree["sha"], parents=[parent_sha])
        return str(commit["sha"])

    def _modes(self, tree_sha: str) -> dict[str, str]:
        """Path -> file mode in a tree, so an executable file stays executable."""
        data = self._call("read the base tree", self._rest.git.get_tree, tree_sha,
                          recursive="1")
        return {e["path"]: e["mode"] for e in data.get("tree", [])
                if e.get("type") == "blob" and e.get("mode") in (TEXT_MODE, EXEC_MODE)}

    def set_branch(self, branch: str, sha: str, *, create: bool, force: bool = False) -> None:
        git = self._rest.git
        if create:
            self._call(f"create branch {branch}", git.create_ref, ref=f"refs/heads/{branch}",
                       sha=sha)
        else:
            self._call(f"move branch {branch}", git.update_ref, f"heads/{branch}", sha=sha,
                       force=force)

    def open_draft_pull(self, *, head: str, base: str, title: str, body: str) -> tuple[int, str]:
        """A draft pull request from `head` into `base`: (number, html_url)."""
        data = self._call(f"open a pull request from {head}", self._rest.pulls.create,
                          head=head, base=base, title=title, body=body, draft=True)
        return int(data["number"]), str(data.get("html_url") or "")

    # --- clone ----------------------------------------------------------------------------
    def clone(self, dest: Path, *, ref: str | None = None) -> str:
        """`git clone` over HTTPS outside any sandbox; returns HEAD's sha. The token travels
        in an http.extraHeader given through git's environment config (GIT_CONFIG_*): not in
        the URL, not in argv, never written to .git/config."""
        url = f"{self.clone_base}/{self.repo}.git"
        token = self._token_source()
        env = {**os.environ, "GIT_TERMINAL_PROMPT": "0", "LC_ALL": "C",
               "GIT_CONFIG_NOSYSTEM": "1", "GIT_CONFIG_GLOBAL": os.devnull,
               "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
               "GIT_CONFIG_VALUE_0": git_auth_header(token)}
        args = ["git", "clone", "--quiet", *(["--branch", ref] if ref else []), url, str(dest)]
        try:
            proc = subprocess.run(args, env=env, capture_output=True, text=True,
                                  timeout=CLONE_TIMEOUT_S, check=False)
        except subprocess.TimeoutExpired:
            raise GitHubError(f"cloning {url} took longer than {CLONE_TIMEOUT_S} s") from None
        if proc.returncode != 0:
            reason = redact(proc.stderr.replace(token, "[REDACTED]")).strip()[-500:]
            raise GitHubError(f"cannot clone {url}: {reason}",
                              hint="check that the App is installed on the repository "
                              "with contents: read") from None
        head = subprocess.run(["git", "-C", str(dest), "rev-parse", "HEAD"], env=env,
                              capture_output=True, text=True, check=False)
        return head.stdout.strip()


def _error_message(resp: Any) -> str:
    """GitHub's `message`, with the first of its `errors` (422s say there which field)."""
    try:
        data = resp.json()
    except ValueError:
        return str(resp.text[:200])
    if not isinstance(data, dict):
        return ""
    message = str(data.get("message") or "")
    errors = data.get("errors") or []
    first = errors[0] if isinstance(errors, list) and errors else None
    if isinstance(first, dict):
        detail = first.get("message") or " ".join(
            str(first[k]) for k in ("resource", "field", "code") if first.get(k))
    else:
        detail = str(first or "")
    return (f"{message} ({str(detail)[:200]})" if detail else message)[:400]


def _hint(status: int) -> str | None:
    if status in (401, 403):
        return "check the App's permissions on the repository (contents, issues, " \
               "pull requests, checks: read and write)"
    if status == 404:
        return "check that the App is installed on the repository"
    if status == 422:
        return "GitHub rejected the request as invalid; the message says which field"
    return None
