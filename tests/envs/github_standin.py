"""A stateful stand-in for GitHub on 127.0.0.1: the REST API an App uses and git over HTTP.

It keeps issues, comments, reactions, check runs, pulls and collaborator permissions in
memory, and keeps each repository's git data in a real bare repository, so blobs, trees,
commits and refs made through the Git Database API are real git objects a clone sees (git
is served with the dumb HTTP protocol, from the bare repository's files).

Every REST request is checked against GitHub's official OpenAPI description
(tests/helpers/openapi_check.py): an unknown method and path answers 404, a body GitHub's
schema rejects answers 422, and both are recorded in `.violations` (tests assert it is
empty). Once an App is registered (`add_app`), REST calls need an installation token it
issued and that has not expired, and git always needs one (Basic auth, any user name).

Scripted answers in `.routes` (exact path, query included or not) win over the state, as
they did when this stand-in was read-only."""

from __future__ import annotations

import base64
import itertools
import json
import os
import re
import secrets
import shutil
import subprocess
import tempfile
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Self
from urllib.parse import parse_qs, unquote, urlsplit

import jwt

from tests.envs.github_standin_git import (
    GIT_ENV,
    Answer,
    GitDatabase,
    Reply,
    Seen,
    now_iso,
    run_git,
    user_json,
)
from tests.helpers.openapi_check import request_violations

__all__ = ["Answer", "GitHubStandIn", "Seen", "app_keypair"]

def app_keypair() -> tuple[str, str]:
    """A fresh RSA key for a test App: (private PEM for AppCredentials, public PEM for
    `add_app`)."""
    from cryptography.hazmat.primitives import serialization
    from cryptography.hazmat.primitives.asymmetric import rsa

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo)
    return private, public.decode()


@dataclass
class _Repo:
    full_name: str
    bare: Path | None = None
    default_branch: str = "main"


class GitHubStandIn(GitDatabase):
    def __init__(self, *, validate: bool = True) -> None:
        self.validate = validate
        self.routes: dict[str, Answer] = {}
        self.requests: list[Seen] = []
        self.violations: list[str] = []
        # State to assert on; each item is GitHub-shaped, plus "repo" ("owner/name").
        self.issues: dict[tuple[str, int], dict[str, Any]] = {}
        self.comments: list[dict[str, Any]] = []  # + "issue_number"
        self.reactions: list[dict[str, Any]] = []  # + "subject" ("issue"|"comment"), "target"
        self.check_runs: list[dict[str, Any]] = []
        self.check_run_updates: list[dict[str, Any]] = []  # each PATCH body + "id"
        self.pulls: list[dict[str, Any]] = []
        self.reviews: list[dict[str, Any]] = []  # + "pull_number"
        self.review_comments: list[dict[str, Any]] = []  # + "pull_number"
        self.commits: list[dict[str, Any]] = []  # made through POST git/commits
        self.ref_updates: list[dict[str, Any]] = []  # {"repo", "ref", "sha", "force"}
        self.permissions: dict[tuple[str, str], str] = {}
        self.apps: dict[int, str] = {}  # app id -> public key PEM
        self.installations: dict[int, int] = {}  # installation id -> app id
        self.tokens: dict[str, dict[str, Any]] = {}  # token -> installation_id, expires_at
        self.token_ttl_s = 3600.0
        self.clock = time.time  # token lifetimes run on it; a test may move it forward
        self._repos: dict[str, _Repo] = {}
        self._ids = itertools.count(1001)
        self._lock = threading.RLock()
        self._dir = Path(tempfile.mkdtemp(prefix="github-standin-"))
        standin = self

        class Handler(BaseHTTPRequestHandler):
            def _serve(self) -> None:
                standin._handle(self)

            do_GET = do_POST = do_PATCH = do_PUT = do_DELETE = _serve

            def log_message(self, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.05,),
                                        daemon=True)

    # --- lifecycle ----------------------------------------------------------------------
    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}"

    def __enter__(self) -> Self:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        shutil.rmtree(self._dir, ignore_errors=True)

    # --- test helpers -------------------------------------------------------------------
    def add_repo(self, owner: str, name: str, source_dir: Path | str) -> str:
        """Serve a bare clone of `source_dir` as owner/name; returns its default branch's head.
        The default branch is the one `source_dir` has checked out; adding a repository
        again replaces its git data with `source_dir`'s (issues and the rest stay)."""
        full = f"{owner}/{name}"
        bare = self._dir / f"{owner}+{name}.git"
        shutil.rmtree(bare, ignore_errors=True)
        subprocess.run(["git", "clone", "-q", "--bare", str(source_dir), str(bare)], check=True,
                       env={**os.environ, **GIT_ENV}, capture_output=True)
        branch = run_git(bare, "symbolic-ref", "--short", "HEAD").strip()
        run_git(bare, "update-server-info")
        with self._lock:
            self._repos[full] = _Repo(full, bare, branch)
        return run_git(bare, "rev-parse", f"refs/heads/{branch}").strip()

    def add_app(self, app_id: int, public_pem: str | bytes) -> None:
        pem = public_pem.decode() if isinstance(public_pem, bytes) else public_pem
        self.apps[app_id] = pem

    def add_installation(self, installation_id: int, app_id: int) -> None:
        self.installations[installation_id] = app_id

    def issue_token(self, installation_id: int, *, ttl_s: float | None = None) -> str:
        """Mint an installation token directly (tests that do not exercise the JWT exchange)."""
        token = "ghs_" + secrets.token_hex(18)
        expires = self.clock() + (self.token_ttl_s if ttl_s is None else ttl_s)
        self.tokens[token] = {"installation_id": installation_id, "expires_at": expires}
        return token

    def set_permission(self, repo: str, user: str, perm: str) -> None:
        """perm: "admin"|"maintain"|"write"|"triage"|"read"|"none"."""
        self.permissions[(repo, user)] = perm

    def add_issue(self, repo: str, number: int, *, title: str = "", body: str | None = "",
                  author: str = "octocat", author_type: str = "User",
                  labels: list[str] | tuple[str, ...] = (),
                  pull_request: bool = False) -> dict[str, Any]:
        owner, name = repo.split("/")
        data: dict[str, Any] = {
            "id": next(self._ids), "node_id": f"I_{number}", "number": number,
            "title": title, "body": body, "state": "open", "locked": False,
            "user": user_json(author, author_type), "labels": [{"name": n} for n in labels],
            "comments": 0, "author_association": "NONE",
            "url": f"https://api.github.com/repos/{repo}/issues/{number}",
            "html_url": f"https://github.com/{owner}/{name}/issues/{number}",
            "created_at": now_iso(), "updated_at": now_iso(), "repo": repo,
        }
        if pull_request:
            data["pull_request"] = {"url": f"https://api.github.com/repos/{repo}/pulls/{number}",
                                    "html_url": f"https://github.com/{repo}/pull/{number}"}
        with self._lock:
            self._repo(repo)
            self.issues[(repo, number)] = data
        return data

    def issue(self, owner: str, name: str, number: int, *, title: str = "",
              body: str | None = "", pull_request: bool = False) -> None:
        """The read-only stand-in's helper, kept for its users."""
        self.add_issue(f"{owner}/{name}", number, title=title, body=body,
                       pull_request=pull_request)

    def add_comment(self, repo: str, number: int, body: str, *, author: str = "octocat",
                    author_type: str = "User") -> int:
        with self._lock:
            return self._new_comment(repo, number, body, user_json(author, author_type))["id"]

    def add_pull(self, repo: str, number: int, *, head_ref: str, head_sha: str | None = None,
                 base_ref: str | None = None, title: str = "", body: str = "",
                 author: str = "octocat", author_type: str = "User",
                 head_repo: str | None = None) -> dict[str, Any]:
        """A pull request (and its issue). Its head sha follows `head_ref` in this stand-in's
        repository when the head is in the same repository and `head_sha` is not given."""
        with self._lock:
            state = self._repo(repo)
            self.add_issue(repo, number, title=title, body=body, author=author,
                           author_type=author_type, pull_request=True)
            pull = {"repo": repo, "number": number, "title": title, "body": body,
                    "head_ref": head_ref, "head_sha": head_sha,
                    "head_repo": head_repo or repo, "base_ref": base_ref or state.default_branch,
                    "draft": False, "user": user_json(author, author_type), "state": "open"}
            self.pulls.append(pull)
            return pull

    def add_check_run(self, repo: str, head_sha: str, name: str, *,
                      conclusion: str | None = "failure", title: str = "", summary: str = "",
                      text: str = "") -> int:
        with self._lock:
            run = self._new_check_run(repo, {
                "name": name, "head_sha": head_sha,
                "status": "completed" if conclusion else "in_progress",
                "conclusion": conclusion,
                "output": {"title": title, "summary": summary, "text": text}})
            return run["id"]

    def add_review(self, repo: str, number: int, body: str, *, state: str = "CHANGES_REQUESTED",
                   author: str = "reviewer") -> None:
        self.reviews.append({"id": next(self._ids), "repo": repo, "pull_number": number,
                             "body": body, "state": state, "user": user_json(author),
                             "submitted_at": now_iso()})

    def add_review_comment(self, repo: str, number: int, body: str, *, path: str, line: int,
                           author: str = "reviewer") -> None:
        self.review_comments.append({"id": next(self._ids), "repo": repo, "pull_number": number,
                                     "body": body, "path": path, "line": line,
                                     "user": user_json(author), "created_at": now_iso()})

    @property
    def refs(self) -> dict[str, dict[str, str]]:
        """repo -> {"refs/heads/main": sha, ...}, read from the bare repositories."""
        out: dict[str, dict[str, str]] = {}
        for full, state in list(self._repos.items()):
            if state.bare is None:
                continue
            lines = run_git(state.bare, "for-each-ref", "--format=%(refname) %(objectname)")
            out[full] = dict(line.split(" ", 1) for line in lines.splitlines() if line)
        return out

    def files(self, repo: str, ref: str) -> dict[str, str]:
        """Path -> text of every file at `ref` (a branch, tag or sha) in the repository."""
        bare = self._bare(repo)
        names = run_git(bare, "ls-tree", "-r", "-z", "--name-only", ref).split("\0")
        return {n: run_git(bare, "show", f"{ref}:{n}") for n in names if n}

    def file_modes(self, repo: str, ref: str) -> dict[str, str]:
        """Path -> git mode ("100644", "100755", ...) of every file at `ref`."""
        sha = run_git(self._bare(repo), "rev-parse", f"{ref}^{{tree}}").strip()
        return {e["path"]: e["mode"] for e in self._tree_json(repo, sha, recursive=True)["tree"]}

    def comments_on(self, repo: str, number: int) -> list[str]:
        return [c["body"] for c in self.comments
                if c["repo"] == repo and c["issue_number"] == number]

    # --- state internals ----------------------------------------------------------------
    def _repo(self, full: str) -> _Repo:
        if full not in self._repos:
            self._repos[full] = _Repo(full)
        return self._repos[full]

    def _bare(self, full: str) -> Path:
        state = self._repos.get(full)
        if state is None or state.bare is None:
            raise Reply(404, {"message": "Not Found"})
        return state.bare

    def _new_comment(self, repo: str, number: int, body: str,
                     user: dict[str, Any]) -> dict[str, Any]:
        issue = self.issues.get((repo, number))
        if issue is None:
            raise Reply(404, {"message": "Not Found"})
        cid = next(self._ids)
        comment = {"id": cid, "node_id": f"IC_{cid}", "body": body, "user": user,
                   "html_url": f"{issue['html_url']}#issuecomment-{cid}",
                   "issue_url": issue["url"], "created_at": now_iso(),
                   "updated_at": now_iso(), "author_association": "NONE", "repo": repo,
                   "issue_number": number,
                   "url": f"https://api.github.com/repos/{repo}/issues/comments/{cid}"}
        self.comments.append(comment)
        issue["comments"] += 1
        return comment

    def _new_check_run(self, repo: str, body: dict[str, Any]) -> dict[str, Any]:
        rid = next(self._ids)
        out = body.get("output") or {}
        run = {"id": rid, "repo": repo, "name": body["name"], "head_sha": body["head_sha"],
               "status": body.get("status") or "queued", "conclusion": body.get("conclusion"),
               "output": {"title": out.get("title"), "summary": out.get("summary"),
                          "text": out.get("text")},
               "started_at": now_iso(), "completed_at": None,
               "html_url": f"https://github.com/{repo}/runs/{rid}",
               "url": f"https://api.github.com/repos/{repo}/check-runs/{rid}"}
        if run["conclusion"]:
            run["status"], run["completed_at"] = "completed", now_iso()
        self.check_runs.append(run)
        return run

    def _head_sha(self, pull: dict[str, Any]) -> str:
        if pull["head_sha"]:
            return pull["head_sha"]
        bare = self._bare(pull["head_repo"])
        return run_git(bare, "rev-parse", f"refs/heads/{pull['head_ref']}").strip()

    def _pull_json(self, pull: dict[str, Any]) -> dict[str, Any]:
        repo, number = pull["repo"], pull["number"]
        head_sha = self._head_sha(pull)
        base_sha = ""
        state = self._repos.get(repo)
        if state and state.bare:
            base_sha = run_git(state.bare, "rev-parse", f"refs/heads/{pull['base_ref']}").strip()
        return {
            "id": next(self._ids), "number": number, "state": pull["state"],
            "title": pull["title"], "body": pull["body"], "draft": pull["draft"],
            "user": pull["user"], "html_url": f"https://github.com/{repo}/pull/{number}",
            "url": f"https://api.github.com/repos/{repo}/pulls/{number}",
            "head": {"ref": pull["head_ref"], "sha": head_sha,
                     "label": f"{pull['head_repo'].split('/')[0]}:{pull['head_ref']}",
                     "repo": {"full_name": pull["head_repo"]}},
            "base": {"ref": pull["base_ref"], "sha": base_sha,
                     "label": f"{repo.split('/')[0]}:{pull['base_ref']}",
                     "repo": {"full_name": repo}},
        }

    def _find_pull(self, repo: str, number: int) -> dict[str, Any]:
        for pull in self.pulls:
            if pull["repo"] == repo and pull["number"] == number:
                return pull
        raise Reply(404, {"message": "Not Found"})

    # --- HTTP ---------------------------------------------------------------------------
    def _handle(self, req: BaseHTTPRequestHandler) -> None:
        method, raw_path = req.command, req.path
        length = int(req.headers.get("Content-Length") or 0)
        raw = req.rfile.read(length) if length else b""
        headers = dict(req.headers.items())
        body: Any = None
        answer: Answer
        try:
            if raw:
                try:
                    body = json.loads(raw)
                except ValueError:
                    self._violate(f"{method} {raw_path}: the body is not JSON")
                    raise Reply(400, {"message": "Problems parsing JSON"}) from None
            with self._lock:
                self.requests.append(Seen(raw_path, headers, method, body))
            path = unquote(urlsplit(raw_path).path)
            if re.fullmatch(r"/[^/]+/[^/]+\.git/.+", path):
                self._serve_git(req, path, headers)
                return
            if self.validate:
                problems = request_violations(method, path, body, has_body=bool(raw))
                if problems:
                    self._violate(*problems)
                    unknown = "no such operation" in problems[0]
                    raise Reply(404 if unknown else 422,
                                 {"message": "Not Found" if unknown else "Invalid request",
                                  "errors": problems})
            scripted = self.routes.get(raw_path) or self.routes.get(path)
            if scripted is not None:
                answer = scripted
            else:
                with self._lock:
                    answer = self._rest(method, path, parse_qs(urlsplit(raw_path).query), body,
                                        headers)
        except Reply as reply:
            answer = reply.answer
        data = b"" if answer.status == 204 else json.dumps(answer.body).encode()
        req.send_response(answer.status)
        req.send_header("Content-Type", "application/json; charset=utf-8")
        req.send_header("Content-Length", str(len(data)))
        for key, value in answer.headers.items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(data)

    def _violate(self, *problems: str) -> None:
        with self._lock:
            self.violations.extend(problems)

    def _valid_token(self, headers: dict[str, str]) -> str | None:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() in ("bearer", "token"):
            token = value.strip()
        elif scheme.lower() == "basic":
            try:
                token = base64.b64decode(value).decode().partition(":")[2]
            except ValueError:
                return None
        else:
            return None
        info = self.tokens.get(token)
        return token if info and info["expires_at"] > self.clock() else None

    def _serve_git(self, req: BaseHTTPRequestHandler, path: str,
                   headers: dict[str, str]) -> None:
        owner, rest = path.lstrip("/").split("/", 1)
        name, _, file = rest.partition(".git/")
        state = self._repos.get(f"{owner}/{name}")
        target = (state.bare / file).resolve() if state and state.bare else None
        if self._valid_token(headers) is None:
            status, data, extra = 401, b"authentication required\n", {
                "WWW-Authenticate": 'Basic realm="GitHub"'}
        elif (target is None or state is None or state.bare is None
              or not target.is_relative_to(state.bare.resolve()) or not target.is_file()):
            status, data, extra = 404, b"not found\n", {}
        else:
            status, data, extra = 200, target.read_bytes(), {}
        req.send_response(status)
        req.send_header("Content-Type", "text/plain" if file == "info/refs"
                        else "application/octet-stream")
        req.send_header("Content-Length", str(len(data)))
        for key, value in extra.items():
            req.send_header(key, value)
        req.end_headers()
        req.wfile.write(data)

    def _rest(self, method: str, path: str, query: dict[str, list[str]], body: Any,
              headers: dict[str, str]) -> Answer:
        m = re.fullmatch(r"/app/installations/(\d+)/access_tokens", path)
        if m and method == "POST":
            return self._access_token(int(m.group(1)), headers)
        if self.apps and self._valid_token(headers) is None:
            raise Reply(401, {"message": "Bad credentials"})
        m = re.fullmatch(r"/repos/([^/]+)/([^/]+)(/.*)?", path)
        if not m:
            raise Reply(404, {"message": "Not Found"})
        repo, rest = f"{m.group(1)}/{m.group(2)}", m.group(3) or ""
        for pattern, verb, handler in self._table():
            found = re.fullmatch(pattern, rest)
            if found and verb == method:
                return handler(repo, *found.groups(), body=body or {}, query=query)
        raise Reply(404, {"message": "Not Found"})

    def _table(self) -> list[tuple[str, str, Any]]:
        return [
            (r"", "GET", self._get_repo),
            (r"/issues/(\d+)", "GET", self._get_issue),
            (r"/issues/(\d+)/comments", "GET", self._list_comments),
            (r"/issues/(\d+)/comments", "POST", self._post_comment),
            (r"/issues/(\d+)/reactions", "POST", self._react_issue),
            (r"/issues/comments/(\d+)/reactions", "POST", self._react_comment),
            (r"/collaborators/([^/]+)/permission", "GET", self._permission),
            (r"/git/ref/(.+)", "GET", self._get_ref),
            (r"/git/refs", "POST", self._create_ref),
            (r"/git/refs/(.+)", "PATCH", self._update_ref),
            (r"/git/blobs", "POST", self._create_blob),
            (r"/git/trees", "POST", self._create_tree),
            (r"/git/trees/([0-9a-f]{40})", "GET", self._get_tree),
            (r"/git/commits", "POST", self._create_commit),
            (r"/git/commits/([0-9a-f]{40})", "GET", self._get_commit),
            (r"/pulls", "POST", self._create_pull),
            (r"/pulls/(\d+)", "GET", self._get_pull),
            (r"/pulls/(\d+)/reviews", "GET", self._list_reviews),
            (r"/pulls/(\d+)/comments", "GET", self._list_review_comments),
            (r"/check-runs", "POST", self._create_check_run),
            (r"/check-runs/(\d+)", "PATCH", self._update_check_run),
            (r"/commits/([^/]+)/check-runs", "GET", self._list_check_runs),
        ]

    @staticmethod
    def _page(items: list[Any], query: dict[str, list[str]]) -> list[Any]:
        per_page = int((query.get("per_page") or ["30"])[0])
        page = int((query.get("page") or ["1"])[0])
        return items[(page - 1) * per_page: page * per_page]

    @staticmethod
    def _public(item: dict[str, Any], *private: str) -> dict[str, Any]:
        hidden = {"repo", *private}
        return {k: v for k, v in item.items() if k not in hidden}

    # --- handlers (repo, *path groups, body, query) -------------------------------------
    def _access_token(self, installation_id: int, headers: dict[str, str]) -> Answer:
        auth = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if not auth.lower().startswith("bearer "):
            raise Reply(401, {"message": "A JSON web token could not be decoded"})
        raw = auth.split(" ", 1)[1].strip()
        try:
            issuer = int(jwt.decode(raw, options={"verify_signature": False})["iss"])
            claims = jwt.decode(raw, self.apps[issuer], algorithms=["RS256"],
                                options={"require": ["iat", "exp", "iss"]})
        except (jwt.PyJWTError, KeyError, ValueError):
            raise Reply(401, {"message": "A JSON web token could not be decoded"}) from None
        if claims["exp"] - time.time() > 600 or claims["iat"] > time.time() + 60:
            raise Reply(401, {"message": "'Expiration time' claim ('exp') is too far in "
                               "the future"})
        if self.installations.get(installation_id) != issuer:
            raise Reply(404, {"message": "Not Found"})
        token = self.issue_token(installation_id)
        return Answer(201, {"token": token,
                            "expires_at": now_iso(self.tokens[token]["expires_at"]),
                            "permissions": {"contents": "write", "issues": "write",
                                            "pull_requests": "write", "checks": "write"},
                            "repository_selection": "all"})

    def _get_repo(self, repo: str, *, body: Any, query: Any) -> Answer:
        state = self._repo(repo)
        owner, name = repo.split("/")
        return Answer(200, {"id": abs(hash(repo)) % 10**8, "name": name, "full_name": repo,
                            "owner": user_json(owner, "Organization"), "private": False,
                            "default_branch": state.default_branch,
                            "html_url": f"https://github.com/{repo}",
                            "clone_url": f"https://github.com/{repo}.git"})

    def _get_issue(self, repo: str, number: str, *, body: Any, query: Any) -> Answer:
        issue = self.issues.get((repo, int(number)))
        if issue is None:
            raise Reply(404, {"message": "Not Found"})
        return Answer(200, self._public(issue))

    def _list_comments(self, repo: str, number: str, *, body: Any, query: Any) -> Answer:
        if (repo, int(number)) not in self.issues:
            raise Reply(404, {"message": "Not Found"})
        items = [self._public(c, "issue_number") for c in self.comments
                 if c["repo"] == repo and c["issue_number"] == int(number)]
        return Answer(200, self._page(items, query))

    def _post_comment(self, repo: str, number: str, *, body: Any, query: Any) -> Answer:
        bot = user_json("quorum[bot]", "Bot")
        comment = self._new_comment(repo, int(number), body["body"], bot)
        return Answer(201, self._public(comment, "issue_number"))

    def _reaction(self, repo: str, subject: str, target: int, content: str) -> Answer:
        reaction = {"id": next(self._ids), "repo": repo, "subject": subject, "target": target,
                    "content": content, "user": user_json("quorum[bot]", "Bot"),
                    "created_at": now_iso()}
        self.reactions.append(reaction)
        return Answer(201, self._public(reaction, "subject", "target"))

    def _react_issue(self, repo: str, number: str, *, body: Any, query: Any) -> Answer:
        if (repo, int(number)) not in self.issues:
            raise Reply(404, {"message": "Not Found"})
        return self._reaction(repo, "issue", int(number), body["content"])

    def _react_comment(self, repo: str, cid: str, *, body: Any, query: Any) -> Answer:
        if not any(c["id"] == int(cid) and c["repo"] == repo for c in self.comments):
            raise Reply(404, {"message": "Not Found"})
        return self._reaction(repo, "comment", int(cid), body["content"])

    def _permission(self, repo: str, user: str, *, body: Any, query: Any) -> Answer:
        role = self.permissions.get((repo, user), "none")
        legacy = {"maintain": "write", "triage": "read"}.get(role, role)
        return Answer(200, {"permission": legacy, "role_name": role, "user": user_json(user)})

    def _create_pull(self, repo: str, *, body: Any, query: Any) -> Answer:
        bare = self._bare(repo)
        head_owner, _, head_ref = body["head"].rpartition(":")
        head_repo = f"{head_owner}/{repo.split('/')[1]}" if head_owner else repo
        if self._resolve(bare, f"refs/heads/{head_ref}") is None:
            raise Reply(422, {"message": "Validation Failed",
                               "errors": [{"field": "head", "code": "invalid"}]})
        if self._resolve(bare, f"refs/heads/{body['base']}") is None:
            raise Reply(422, {"message": "Validation Failed",
                               "errors": [{"field": "base", "code": "invalid"}]})
        if any(p["repo"] == repo and p["head_ref"] == head_ref and p["state"] == "open"
               for p in self.pulls):
            raise Reply(422, {"message": f"A pull request already exists for {body['head']}."})
        number = max([n for (r, n) in self.issues if r == repo] or [0]) + 1
        pull = self.add_pull(repo, number, head_ref=head_ref, base_ref=body["base"],
                             title=body["title"], body=body.get("body") or "",
                             author="quorum[bot]", author_type="Bot", head_repo=head_repo)
        pull["draft"] = bool(body.get("draft"))
        return Answer(201, self._pull_json(pull))

    def _get_pull(self, repo: str, number: str, *, body: Any, query: Any) -> Answer:
        return Answer(200, self._pull_json(self._find_pull(repo, int(number))))

    def _list_reviews(self, repo: str, number: str, *, body: Any, query: Any) -> Answer:
        self._find_pull(repo, int(number))
        items = [self._public(r, "pull_number") for r in self.reviews
                 if r["repo"] == repo and r["pull_number"] == int(number)]
        return Answer(200, self._page(items, query))

    def _list_review_comments(self, repo: str, number: str, *, body: Any, query: Any) -> Answer:
        self._find_pull(repo, int(number))
        items = [self._public(c, "pull_number") for c in self.review_comments
                 if c["repo"] == repo and c["pull_number"] == int(number)]
        return Answer(200, self._page(items, query))

    def _create_check_run(self, repo: str, *, body: Any, query: Any) -> Answer:
        return Answer(201, self._public(self._new_check_run(repo, body)))

    def _update_check_run(self, repo: str, rid: str, *, body: Any, query: Any) -> Answer:
        run = next((r for r in self.check_runs if r["id"] == int(rid) and r["repo"] == repo),
                   None)
        if run is None:
            raise Reply(404, {"message": "Not Found"})
        self.check_run_updates.append({"id": run["id"], **body})
        for key in ("name", "status", "conclusion"):
            if key in body:
                run[key] = body[key]
        if "output" in body:
            run["output"] = {**run["output"], **body["output"]}
        if run.get("conclusion"):
            run["status"], run["completed_at"] = "completed", now_iso()
        return Answer(200, self._public(run))

    def _list_check_runs(self, repo: str, ref: str, *, body: Any, query: Any) -> Answer:
        state = self._repos.get(repo)
        sha = ref
        if state and state.bare and not re.fullmatch(r"[0-9a-f]{40}", ref):
            sha = self._resolve(state.bare, ref) or ref
        items = [self._public(r) for r in self.check_runs
                 if r["repo"] == repo and r["head_sha"] == sha]
        return Answer(200, {"total_count": len(items), "check_runs": self._page(items, query)})
