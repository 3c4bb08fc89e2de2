"""A Task from a GitHub issue URL: the issue through the REST API, the repository cloned.

GitHub Enterprise works the same way: its issue URLs have another host and its API lives at
`https://HOST/api/v3` unless `api_base` says otherwise. The token is sent, never logged.
The API is read through githubkit (envs/sources/github_client.py), the App's client too."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
from githubkit.exception import RequestError, RequestFailed
from pydantic import BaseModel, ConfigDict

from envs import repos
from envs.errors import (
    EmptyIssue,
    IssueFetchError,
    IssueNotFound,
    IssueUnreachable,
    NotAnIssue,
    RateLimited,
)
from envs.sources.github_client import API_VERSION, github_client
from envs.task import Task

GITHUB_HOST = "github.com"
GITHUB_API = "https://api.github.com"
TIMEOUT_S = 30.0
PER_PAGE = 100
MAX_COMMENT_PAGES = 5
COMMENTS_CHARS = 20_000


class IssueRef(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    host: str
    owner: str
    name: str
    number: int

    @property
    def repo(self) -> str:
        return f"{self.owner}/{self.name}"

    @property
    def url(self) -> str:
        return f"https://{self.host}/{self.repo}/issues/{self.number}"

    def default_api_base(self) -> str:
        return GITHUB_API if self.host == GITHUB_HOST else f"https://{self.host}/api/v3"

    def default_clone_url(self) -> str:
        return f"https://{self.host}/{self.repo}.git"


class IssueComment(BaseModel):
    model_config = ConfigDict(extra="forbid")

    author: str
    body: str


class Issue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ref: IssueRef
    title: str
    body: str
    html_url: str
    comments: list[IssueComment] = []

    @property
    def text(self) -> str:
        """Title, body, then the comments in order (they often hold the reproduction), the
        comments bounded to COMMENTS_CHARS so a long thread cannot crowd out the issue."""
        text = f"{self.title.strip()}\n\n{self.body.strip()}".strip() + "\n"
        budget = COMMENTS_CHARS
        for i, comment in enumerate(self.comments):
            part = f"\n---\nComment by {comment.author}:\n{comment.body.strip()}\n"
            if len(part) > budget:
                left = len(self.comments) - i
                text += f"\n---\n[{left} more comment{'s' * (left > 1)} not shown]\n"
                break
            text, budget = text + part, budget - len(part)
        return text


def parse_issue_url(url: str) -> IssueRef:
    """https://HOST/OWNER/REPO/issues/N; a pull request URL is refused by name."""
    parts = urlsplit(url.strip())
    segs = [s for s in parts.path.split("/") if s]
    expected = "expected https://github.com/OWNER/REPO/issues/NUMBER"
    if parts.scheme not in ("http", "https") or not parts.netloc or len(segs) < 4:
        raise NotAnIssue(f"{url} is not an issue URL", hint=expected)
    owner, name, kind, number = segs[:4]
    if kind in ("pull", "pulls"):
        raise NotAnIssue(f"{url} is a pull request, not an issue",
                         hint="give the URL of the issue the pull request addresses")
    if kind != "issues" or not number.isdigit():
        raise NotAnIssue(f"{url} is not an issue URL", hint=expected)
    return IssueRef(host=parts.netloc.lower(), owner=owner,
                    name=name.removesuffix(".git"), number=int(number))


def fetch_issue(ref: IssueRef, *, token: str | None = None, api_base: str | None = None,
                timeout: float = TIMEOUT_S, transport: httpx.BaseTransport | None = None) -> Issue:
    """The issue and its comments through the REST API (githubkit)."""
    base = (api_base or ref.default_api_base()).rstrip("/")
    gh = github_client(base, token, timeout=timeout, transport=transport)
    rest = gh.rest(API_VERSION)  # holds `gh` weakly: `gh` must live as long
    url = f"{base}/repos/{ref.owner}/{ref.name}/issues/{ref.number}"
    data = _get(url, ref, bool(token), rest.issues.get, ref.owner, ref.name, ref.number)
    if data.get("pull_request"):
        raise NotAnIssue(f"{ref.url} is a pull request, not an issue",
                         hint="give the URL of the issue the pull request addresses")
    comments: list[IssueComment] = []
    for page in range(1, MAX_COMMENT_PAGES + 1):
        batch = _get(f"{url}/comments", ref, bool(token), rest.issues.list_comments,
                     ref.owner, ref.name, ref.number, per_page=PER_PAGE, page=page)
        comments += [IssueComment(author=(c.get("user") or {}).get("login") or "ghost",
                                  body=c.get("body") or "") for c in batch]
        if len(batch) < PER_PAGE:
            break
    return Issue(ref=ref, title=data.get("title") or "", body=data.get("body") or "",
                 html_url=data.get("html_url") or ref.url, comments=comments)


def _get(url: str, ref: IssueRef, authenticated: bool, call: Any, *args: Any,
         **kwargs: Any) -> Any:
    """One GET through githubkit, its JSON; the errors name `url`, never the headers."""
    try:
        resp = call(*args, **kwargs)
    except RequestFailed as exc:
        _raise_for_status(exc.response.raw_response, ref, url, authenticated=authenticated)
        raise  # _raise_for_status raises for every error status
    except RequestError as exc:
        raise IssueUnreachable(f"cannot reach the GitHub API at {url}: {exc.exc}",
                               hint="check the network, or the API base for GitHub "
                               "Enterprise") from exc
    try:
        return resp.raw_response.json()
    except ValueError as exc:
        raise IssueFetchError(f"the API at {url} did not answer JSON") from exc


def _raise_for_status(resp: httpx.Response, ref: IssueRef, url: str, *,
                      authenticated: bool) -> None:
    status = resp.status_code
    if status < 300:
        return
    if status in (403, 429) and _is_rate_limit(resp):
        reset_at = _reset_time(resp)
        when = f"; it resets at {reset_at}" if reset_at else ""
        hint = "wait for the reset" if authenticated else "set GITHUB_TOKEN for a higher limit"
        raise RateLimited(f"GitHub API rate limit hit for {url}{when}", reset_at=reset_at,
                          hint=hint)
    if status in (404, 410):
        raise IssueNotFound(f"issue {ref.repo}#{ref.number} not found ({url} answered {status})",
                            hint="check the URL; a private repository needs GITHUB_TOKEN")
    if status in (401, 403):
        raise IssueFetchError(f"GitHub refused access to {url} ({status})",
                              hint="check that GITHUB_TOKEN is valid and can read the repo")
    raise IssueFetchError(f"GitHub answered {status} for {url}: {resp.text[:200]}")


def _is_rate_limit(resp: httpx.Response) -> bool:
    h = resp.headers
    return (resp.status_code == 429 or h.get("x-ratelimit-remaining") == "0"
            or "retry-after" in h or "rate limit" in resp.text.lower())


def _reset_time(resp: httpx.Response) -> str | None:
    h = resp.headers
    try:
        if "x-ratelimit-reset" in h:
            epoch = float(h["x-ratelimit-reset"])
        elif "retry-after" in h:
            epoch = time.time() + float(h["retry-after"])
        else:
            return None
    except ValueError:
        return None
    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def task_from_github(url: str, *, workdir: Path | str, token: str | None = None,
                     api_base: str | None = None, clone_url: str | None = None,
                     mirror_dir: Path | str | None = None,
                     transport: httpx.BaseTransport | None = None) -> Task:
    """Fetch the issue, clone (or refresh) the repository under `workdir/OWNER+NAME`, and
    describe it as a Task at the default branch's head."""
    ref = parse_issue_url(url)
    issue = fetch_issue(ref, token=token, api_base=api_base, transport=transport)
    if not issue.title.strip() and not issue.body.strip():
        raise EmptyIssue(f"the issue {ref.url} has neither title nor body")
    dest = Path(workdir).expanduser() / f"{ref.owner}+{ref.name}"
    if (dest / ".git").exists():
        base = repos.update(dest)
    else:
        source = repos.clone_source(ref.repo, mirror_dir=mirror_dir,
                                    clone_url=clone_url or ref.default_clone_url())
        base = repos.clone(source, dest)
    return Task(id=f"{ref.owner}__{ref.name}-{ref.number}", repo=str(dest.resolve()),
                base_commit=base, problem_statement=issue.text, source="github",
                url=issue.html_url)
