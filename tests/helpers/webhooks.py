"""Signed webhook deliveries shaped like GitHub's, for tests of the App.

`signed_delivery(secret, event, payload)` gives the headers and raw body GitHub would send;
`issue_labeled(...)`, `issue_comment(...)` build payloads with every field GitHub's webhook
schema requires (tests/app/test_webhook_payloads.py checks them against
`@octokit/openapi-webhooks`). Each builder takes the few fields a test cares about."""

from __future__ import annotations

import json
import uuid
from typing import Any

from quorum.app.signature import sign

API = "https://api.github.com"
WEB = "https://github.com"
WHEN = "2026-11-30T12:00:00Z"


def signed_delivery(secret: str, event: str, payload: Any,
                    delivery_id: str | None = None) -> tuple[dict[str, str], bytes]:  # fmt: skip
    """(headers, body) of one delivery; `payload` may be bytes (sent as they are)."""
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "GitHub-Hookshot/7f3c2a1",
        "X-GitHub-Event": event,
        "X-GitHub-Delivery": delivery_id or str(uuid.uuid4()),
        "X-GitHub-Hook-ID": "12312312",
        "X-GitHub-Hook-Installation-Target-ID": "123123",
        "X-GitHub-Hook-Installation-Target-Type": "integration",
        "X-Hub-Signature-256": sign(secret, body),
    }
    return headers, body


def user(login: str = "octocat", *, user_id: int = 583231, kind: str = "User") -> dict[str, Any]:
    url = f"{API}/users/{login}"
    return {
        "login": login, "id": user_id, "node_id": f"MDQ6VXNlcj{user_id}",
        "avatar_url": f"https://avatars.githubusercontent.com/u/{user_id}?v=4",
        "gravatar_id": "", "url": url, "html_url": f"{WEB}/{login}",
        "followers_url": f"{url}/followers", "following_url": f"{url}/following{{/other_user}}",
        "gists_url": f"{url}/gists{{/gist_id}}", "starred_url": f"{url}/starred{{/owner}}{{/repo}}",
        "subscriptions_url": f"{url}/subscriptions", "organizations_url": f"{url}/orgs",
        "repos_url": f"{url}/repos", "events_url": f"{url}/events{{/privacy}}",
        "received_events_url": f"{url}/received_events", "type": kind, "site_admin": False,
        "user_view_type": "public",
    }  # fmt: skip


def repository(full_name: str = "acme/widgets", *, repo_id: int = 1296269) -> dict[str, Any]:
    owner, name = full_name.split("/")
    url = f"{API}/repos/{full_name}"
    templated = {  # GitHub's *_url fields, most of them URI templates
        "archive": "/{archive_format}{/ref}", "assignees": "/assignees{/user}",
        "blobs": "/git/blobs{/sha}", "branches": "/branches{/branch}",
        "collaborators": "/collaborators{/collaborator}", "comments": "/comments{/number}",
        "commits": "/commits{/sha}", "compare": "/compare/{base}...{head}",
        "contents": "/contents/{+path}", "contributors": "/contributors",
        "deployments": "/deployments", "downloads": "/downloads", "events": "/events",
        "forks": "/forks", "git_commits": "/git/commits{/sha}", "git_refs": "/git/refs{/sha}",
        "git_tags": "/git/tags{/sha}", "hooks": "/hooks", "issue_comment":
        "/issues/comments{/number}", "issue_events": "/issues/events{/number}",
        "issues": "/issues{/number}", "keys": "/keys{/key_id}", "labels": "/labels{/name}",
        "languages": "/languages", "merges": "/merges", "milestones": "/milestones{/number}",
        "notifications": "/notifications{?since,all,participating}", "pulls": "/pulls{/number}",
        "releases": "/releases{/id}", "stargazers": "/stargazers", "statuses":
        "/statuses/{sha}", "subscribers": "/subscribers", "subscription": "/subscription",
        "tags": "/tags", "teams": "/teams", "trees": "/git/trees{/sha}",
    }  # fmt: skip
    repo: dict[str, Any] = {f"{key}_url": url + path for key, path in templated.items()}
    repo.update({
        "id": repo_id, "node_id": f"MDEwOlJlcG9zaXRvcnk{repo_id}", "name": name,
        "full_name": full_name, "private": False, "owner": user(owner, user_id=repo_id + 1),
        "html_url": f"{WEB}/{full_name}", "description": "Widgets for everyone", "fork": False,
        "url": url, "git_url": f"git://github.com/{full_name}.git",
        "ssh_url": f"git@github.com:{full_name}.git", "clone_url": f"{WEB}/{full_name}.git",
        "svn_url": f"{WEB}/{full_name}", "mirror_url": None, "homepage": None,
        "language": "Python", "size": 108, "stargazers_count": 80, "watchers_count": 80,
        "watchers": 80, "forks_count": 9, "forks": 9, "open_issues_count": 3, "open_issues": 3,
        "has_issues": True, "has_projects": True, "has_downloads": True, "has_wiki": True,
        "has_pages": False, "archived": False, "disabled": False, "license": None,
        "default_branch": "main", "created_at": WHEN, "updated_at": WHEN, "pushed_at": WHEN,
        "visibility": "public", "topics": [],
    })  # fmt: skip
    return repo


def issue(repo: str, number: int, *, title: str = "Widgets crash on empty input",
          body: str = "Calling `widgets.parse('')` raises IndexError.",
          author: str = "octocat", pull: bool = False,
          labels: list[dict[str, Any]] | None = None) -> dict[str, Any]:  # fmt: skip
    url = f"{API}/repos/{repo}/issues/{number}"
    out: dict[str, Any] = {
        "url": url, "repository_url": f"{API}/repos/{repo}",
        "labels_url": f"{url}/labels{{/name}}", "comments_url": f"{url}/comments",
        "events_url": f"{url}/events", "html_url": f"{WEB}/{repo}/issues/{number}",
        "id": 1000 + number, "node_id": f"I_kwDO{number:08d}", "number": number,
        "title": title, "user": user(author), "labels": labels or [], "state": "open",
        "locked": False, "assignee": None, "assignees": [], "milestone": None, "comments": 0,
        "created_at": WHEN, "updated_at": WHEN, "closed_at": None,
        "author_association": "OWNER", "active_lock_reason": None, "body": body,
        "reactions": _reactions(url), "timeline_url": f"{url}/timeline",
        "performed_via_github_app": None, "state_reason": None,
    }  # fmt: skip
    if pull:
        pulls = f"{API}/repos/{repo}/pulls/{number}"
        out["pull_request"] = {
            "url": pulls, "html_url": f"{WEB}/{repo}/pull/{number}",
            "diff_url": f"{WEB}/{repo}/pull/{number}.diff",
            "patch_url": f"{WEB}/{repo}/pull/{number}.patch", "merged_at": None,
        }  # fmt: skip
    return out


def label(name: str = "quorum") -> dict[str, Any]:
    return {"id": 208045946, "node_id": "MDU6TGFiZWwyMDgwNDU5NDY=",
            "url": f"{API}/repos/acme/widgets/labels/{name}", "name": name,
            "color": "5319e7", "default": False, "description": "Let Quorum solve it"}  # fmt: skip


def issue_labeled(repo: str = "acme/widgets", number: int = 7, *, label_name: str = "quorum",
                  sender: str = "maintainer", sender_type: str = "User",
                  installation_id: int = 4242, **issue_fields: Any) -> dict[str, Any]:  # fmt: skip
    """An `issues` delivery, action `labeled`."""
    added = label(label_name)
    return {
        "action": "labeled",
        "issue": issue(repo, number, labels=[added], **issue_fields),
        "label": added,
        "repository": repository(repo),
        "sender": user(sender, user_id=9000 + len(sender), kind=sender_type),
        "installation": _installation(installation_id),
    }  # fmt: skip


def issue_comment(repo: str = "acme/widgets", number: int = 7, *, body: str = "/quorum solve",
                  sender: str = "maintainer", sender_type: str = "User", comment_id: int = 555001,
                  installation_id: int = 4242, pull: bool = False,
                  action: str = "created") -> dict[str, Any]:  # fmt: skip
    """An `issue_comment` delivery (on a pull request's conversation when `pull`)."""
    issue_url = f"{API}/repos/{repo}/issues/{number}"
    comment_url = f"{API}/repos/{repo}/issues/comments/{comment_id}"
    author = user(sender, user_id=9000 + len(sender), kind=sender_type)
    return {
        "action": action,
        "issue": issue(repo, number, pull=pull),
        "comment": {
            "url": comment_url,
            "html_url": f"{WEB}/{repo}/issues/{number}#issuecomment-{comment_id}",
            "issue_url": issue_url, "id": comment_id, "node_id": f"IC_kwDO{comment_id}",
            "user": author, "created_at": WHEN, "updated_at": WHEN,
            "author_association": "MEMBER", "performed_via_github_app": None, "body": body,
            "reactions": _reactions(comment_url),
        },
        "repository": repository(repo),
        "sender": author,
        "installation": _installation(installation_id),
    }  # fmt: skip


def _installation(installation_id: int) -> dict[str, Any]:
    return {"id": installation_id, "node_id": f"MDIzOkludGVncmF0aW9u{installation_id}"}


def _reactions(url: str) -> dict[str, Any]:
    counts = dict.fromkeys(
        ["+1", "-1", "laugh", "hooray", "confused", "heart", "rocket", "eyes"], 0)
    return {"url": f"{url}/reactions", "total_count": 0, **counts}
