"""The GitHub stand-in's Git Database API (blobs, trees, commits, refs), kept in a real bare
repository per GitHub repository, so what the API writes is what a clone sees; and the small
pieces the stand-in's modules share (Answer, the Reply that carries an error answer)."""

from __future__ import annotations

import base64
import os
import re
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ZERO_SHA = "0" * 40
GIT_ENV = {"GIT_CONFIG_GLOBAL": os.devnull, "GIT_CONFIG_NOSYSTEM": "1", "LC_ALL": "C",
            "GIT_AUTHOR_NAME": "quorum[bot]", "GIT_AUTHOR_EMAIL": "quorum[bot]@users.noreply",
            "GIT_COMMITTER_NAME": "GitHub", "GIT_COMMITTER_EMAIL": "noreply@github.com"}


@dataclass
class Answer:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class Seen:
    path: str
    headers: dict[str, str]
    method: str = "GET"
    body: Any = None


class Reply(Exception):  # control flow: the answer to send
    def __init__(self, status: int, body: Any = None, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.answer = Answer(status, body, headers or {})


def now_iso(epoch: float | None = None) -> str:
    return datetime.fromtimestamp(time.time() if epoch is None else epoch,
                                  UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def user_json(login: str, kind: str = "User") -> dict[str, Any]:
    return {"login": login, "id": abs(hash(login)) % 10**8, "type": kind,
            "html_url": f"https://github.com/{login}"}


def run_git(bare: Path, *args: str, stdin: str | bytes | None = None,
         env: dict[str, str] | None = None) -> str:
    data = stdin.encode() if isinstance(stdin, str) else stdin
    proc = subprocess.run(["git", *args], cwd=bare, input=data, capture_output=True,
                          env={**os.environ, **GIT_ENV, **(env or {})}, check=False)
    if proc.returncode != 0:
        raise Reply(422, {"message": f"git {args[0]} failed: "
                           f"{proc.stderr.decode(errors='replace').strip()[:200]}"})
    return proc.stdout.decode(errors="replace")


class GitDatabase:
    """Handlers for /repos/{owner}/{repo}/git/...; the host class provides `_bare(repo)`,
    `commits` and `ref_updates`."""

    commits: list[dict[str, Any]]
    ref_updates: list[dict[str, Any]]

    def _bare(self, full: str) -> Path:
        raise NotImplementedError

    def _ref_json(self, repo: str, ref: str, sha: str) -> dict[str, Any]:
        return {"ref": ref, "node_id": f"REF_{sha[:8]}",
                "url": f"https://api.github.com/repos/{repo}/git/{ref}",
                "object": {"sha": sha, "type": "commit",
                           "url": f"https://api.github.com/repos/{repo}/git/commits/{sha}"}}

    def _resolve(self, bare: Path, ref: str) -> str | None:
        proc = subprocess.run(["git", "rev-parse", "--verify", "-q", f"{ref}^{{commit}}"],
                              cwd=bare, capture_output=True, text=True, check=False)
        return proc.stdout.strip() if proc.returncode == 0 else None

    def _get_ref(self, repo: str, ref: str, *, body: Any, query: Any) -> Answer:
        sha = self._resolve(self._bare(repo), f"refs/{ref}")
        if sha is None:
            raise Reply(404, {"message": "Not Found"})
        return Answer(200, self._ref_json(repo, f"refs/{ref}", sha))

    def _move_ref(self, repo: str, ref: str, sha: str, *, force: bool) -> None:
        bare = self._bare(repo)
        if self._resolve(bare, sha) != sha:
            raise Reply(422, {"message": "Object does not exist"})
        run_git(bare, "update-ref", ref, sha)
        run_git(bare, "update-server-info")
        self.ref_updates.append({"repo": repo, "ref": ref, "sha": sha, "force": force})

    def _create_ref(self, repo: str, *, body: Any, query: Any) -> Answer:
        ref = body["ref"]
        if not re.fullmatch(r"refs/[^/]+/.+", ref):
            raise Reply(422, {"message": f"{ref} is not a valid ref name."})
        if self._resolve(self._bare(repo), ref) is not None:
            raise Reply(422, {"message": "Reference already exists"})
        self._move_ref(repo, ref, body["sha"], force=False)
        return Answer(201, self._ref_json(repo, ref, body["sha"]))

    def _update_ref(self, repo: str, ref: str, *, body: Any, query: Any) -> Answer:
        bare, full = self._bare(repo), f"refs/{ref}"
        old = self._resolve(bare, full)
        if old is None:
            raise Reply(422, {"message": "Reference does not exist"})
        force = bool(body.get("force"))
        ancestor = subprocess.run(["git", "merge-base", "--is-ancestor", old, body["sha"]],
                                  cwd=bare, capture_output=True, check=False).returncode == 0
        if not force and not ancestor:
            raise Reply(422, {"message": "Update is not a fast forward"})
        self._move_ref(repo, full, body["sha"], force=force)
        return Answer(200, self._ref_json(repo, full, body["sha"]))

    def _create_blob(self, repo: str, *, body: Any, query: Any) -> Answer:
        content = body["content"]
        data = (base64.b64decode(content) if body.get("encoding") == "base64"
                else content.encode())
        sha = run_git(self._bare(repo), "hash-object", "-w", "--stdin", stdin=data).strip()
        return Answer(201, {"sha": sha,
                            "url": f"https://api.github.com/repos/{repo}/git/blobs/{sha}"})

    def _create_tree(self, repo: str, *, body: Any, query: Any) -> Answer:
        bare = self._bare(repo)
        with tempfile.TemporaryDirectory() as tmp:
            env = {"GIT_INDEX_FILE": str(Path(tmp) / "index"), "GIT_WORK_TREE": tmp}
            if body.get("base_tree"):
                run_git(bare, "read-tree", body["base_tree"], env=env)
            else:
                run_git(bare, "read-tree", "--empty", env=env)
            lines = []
            for entry in body["tree"]:
                if entry.get("type") != "blob":
                    raise Reply(422, {"message": "the stand-in takes blob entries only"})
                if "content" in entry:
                    sha = run_git(bare, "hash-object", "-w", "--stdin",
                               stdin=entry["content"]).strip()
                elif entry.get("sha") is None:
                    lines.append(f"0 {ZERO_SHA}\t{entry['path']}")
                    continue
                else:
                    sha = entry["sha"]
                    if run_git(bare, "cat-file", "-t", sha).strip() != "blob":
                        raise Reply(422, {"message": f"tree.sha {sha} is not a blob"})
                lines.append(f"{entry['mode']} {sha}\t{entry['path']}")
            run_git(bare, "update-index", "--index-info", stdin="\n".join(lines) + "\n", env=env)
            tree = run_git(bare, "write-tree", env=env).strip()
        return Answer(201, self._tree_json(repo, tree, recursive=True))

    def _tree_json(self, repo: str, sha: str, *, recursive: bool) -> dict[str, Any]:
        listing = run_git(self._bare(repo), "ls-tree", *(["-r"] if recursive else []), "-z", sha)
        entries = []
        for item in listing.split("\0"):
            if not item:
                continue
            meta, path = item.split("\t", 1)
            mode, kind, obj = meta.split(" ")
            entries.append({"path": path, "mode": mode, "type": kind, "sha": obj,
                            "url": f"https://api.github.com/repos/{repo}/git/{kind}s/{obj}"})
        return {"sha": sha, "url": f"https://api.github.com/repos/{repo}/git/trees/{sha}",
                "tree": entries, "truncated": False}

    def _get_tree(self, repo: str, sha: str, *, body: Any, query: Any) -> Answer:
        return Answer(200, self._tree_json(repo, sha, recursive=bool(query.get("recursive"))))

    def _commit_json(self, repo: str, sha: str) -> dict[str, Any]:
        text = run_git(self._bare(repo), "cat-file", "commit", sha)
        head, _, message = text.partition("\n\n")
        fields: dict[str, list[str]] = {}
        for line in head.splitlines():
            key, _, value = line.partition(" ")
            fields.setdefault(key, []).append(value)

        def person(raw: str) -> dict[str, str]:
            name, _, rest = raw.partition(" <")
            email, _, stamp = rest.partition("> ")
            return {"name": name, "email": email, "date": now_iso(float(stamp.split()[0]))}

        api = f"https://api.github.com/repos/{repo}/git/commits"
        return {"sha": sha, "node_id": f"C_{sha[:8]}", "url": f"{api}/{sha}",
                "html_url": f"https://github.com/{repo}/commit/{sha}",
                "author": person(fields["author"][0]),
                "committer": person(fields["committer"][0]), "message": message,
                "tree": {"sha": fields["tree"][0],
                         "url": f"https://api.github.com/repos/{repo}/git/trees/"
                         f"{fields['tree'][0]}"},
                "parents": [{"sha": p, "url": f"{api}/{p}",
                             "html_url": f"https://github.com/{repo}/commit/{p}"}
                            for p in fields.get("parent", [])],
                "verification": {"verified": False, "reason": "unsigned", "signature": None,
                                 "payload": None, "verified_at": None}}

    def _get_commit(self, repo: str, sha: str, *, body: Any, query: Any) -> Answer:
        bare = self._bare(repo)
        if self._resolve(bare, sha) != sha:
            raise Reply(404, {"message": "Not Found"})
        return Answer(200, self._commit_json(repo, sha))

    def _create_commit(self, repo: str, *, body: Any, query: Any) -> Answer:
        bare = self._bare(repo)
        if run_git(bare, "cat-file", "-t", body["tree"]).strip() != "tree":
            raise Reply(422, {"message": "Tree SHA does not exist"})
        parents = body.get("parents") or []
        for parent in parents:
            if self._resolve(bare, parent) != parent:
                raise Reply(422, {"message": "Parent SHA does not exist or is not a commit"})
        args = [arg for p in parents for arg in ("-p", p)]
        sha = run_git(bare, "commit-tree", body["tree"], *args, stdin=body["message"]).strip()
        self.commits.append({"repo": repo, "sha": sha, "message": body["message"],
                             "tree": body["tree"], "parents": parents})
        return Answer(201, self._commit_json(repo, sha))
