"""RepoClient and the App's tokens against the stateful GitHub stand-in: every call is one
GitHub would accept (`.violations == []`), the state it leaves is what GitHub would hold, and
no token reaches a message or the disk."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from pydantic import SecretStr

from envs.gitcmd import commit_all, git
from quorum.app.auth import AppCredentials, InstallationTokens, app_jwt
from quorum.app.github_ops import GitHubError, RepoClient, git_base_from_api
from tests.envs.github_standin import GitHubStandIn, app_keypair

REPO = "acme/widgets"
APP_ID, INSTALLATION = 4242, 77


class Clock:
    def __init__(self) -> None:
        import time

        self.now = time.time()

    def __call__(self) -> float:
        return self.now


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return app_keypair()


@pytest.fixture
def origin(tmp_path: Path) -> tuple[Path, str]:
    work = tmp_path / "origin"
    work.mkdir()
    (work / "lib.py").write_text("def f():\n    return 1\n")
    (work / "run.sh").write_text("#!/bin/sh\necho hi\n")
    (work / "run.sh").chmod(0o755)
    (work / "docs").mkdir()
    (work / "docs" / "old.md").write_text("old\n")
    return work, commit_all(work, "init")


@pytest.fixture
def github(keys, origin) -> Iterator[GitHubStandIn]:
    with GitHubStandIn() as standin:
        standin.add_app(APP_ID, keys[1])
        standin.add_installation(INSTALLATION, APP_ID)
        standin.add_repo("acme", "widgets", origin[0])
        yield standin
        assert standin.violations == []


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tokens(github, keys, clock) -> InstallationTokens:
    github.clock = clock  # GitHub's clock and the App's advance together
    creds = AppCredentials(app_id=APP_ID, private_key_pem=SecretStr(keys[0]))
    return InstallationTokens(creds, github.base_url, clock=clock)


@pytest.fixture
def client(github, tokens) -> RepoClient:
    return RepoClient(github.base_url, tokens.source(INSTALLATION), REPO)


def _exchanges(github: GitHubStandIn) -> int:
    return sum(1 for r in github.requests if r.path.endswith("/access_tokens"))


def test_git_base_from_the_api_url():
    assert git_base_from_api("https://api.github.com") == "https://github.com"
    assert git_base_from_api("https://api.github.com/") == "https://github.com"
    assert git_base_from_api("https://ghe.corp.example/api/v3") == "https://ghe.corp.example"
    assert git_base_from_api("http://127.0.0.1:8123") == "http://127.0.0.1:8123"


def test_app_jwt_claims(keys):
    creds = AppCredentials(app_id=APP_ID, private_key_pem=SecretStr(keys[0]))
    token = app_jwt(creds, now=1_800_000_000)
    claims = jwt.decode(token, keys[1], algorithms=["RS256"],
                        options={"verify_exp": False, "verify_iat": False})
    assert claims == {"iss": str(APP_ID), "iat": 1_800_000_000 - 60,
                      "exp": 1_800_000_000 + 540}
    assert jwt.get_unverified_header(token)["alg"] == "RS256"


def test_installation_token_is_cached_then_refreshed_before_expiry(github, tokens, clock,
                                                                   client):
    first = tokens.token(INSTALLATION)
    assert first in github.tokens and _exchanges(github) == 1
    clock.now += 54 * 60  # 6 minutes left: still good
    assert tokens.token(INSTALLATION) == first and _exchanges(github) == 1
    clock.now += 2 * 60  # 4 minutes left: refresh
    second = tokens.token(INSTALLATION)
    assert second != first and _exchanges(github) == 2
    github.add_issue(REPO, 1, title="t")
    client.comment(1, "hello")
    assert github.requests[-1].headers["Authorization"] == f"Bearer {second}"


def test_a_wrong_key_is_refused_without_leaking_it(github):
    other_private, _ = app_keypair()
    creds = AppCredentials(app_id=APP_ID, private_key_pem=SecretStr(other_private))
    with pytest.raises(GitHubError) as info:
        InstallationTokens(creds, github.base_url).token(INSTALLATION)
    assert info.value.status == 401
    assert "PRIVATE KEY" not in str(info.value)


def test_the_standin_refuses_a_jwt_that_github_would(github, keys):
    import time

    now = time.time()
    for claims in ({"iss": str(APP_ID), "iat": int(now) - 60, "exp": int(now) + 1200},  # > 10 min
                   {"iss": str(APP_ID), "iat": int(now) - 700, "exp": int(now) - 60}):  # expired
        token = jwt.encode(claims, keys[0], algorithm="RS256")
        resp = httpx.post(f"{github.base_url}/app/installations/{INSTALLATION}/access_tokens",
                          headers={"Authorization": f"Bearer {token}"})
        assert resp.status_code == 401
    assert github.tokens == {}


def test_an_unknown_installation_is_not_found(github, tokens):
    with pytest.raises(GitHubError) as info:
        tokens.token(INSTALLATION + 1)
    assert info.value.status == 404
    client = RepoClient(github.base_url, tokens.source(INSTALLATION + 1), REPO)
    with pytest.raises(GitHubError, match="installation token") as info:  # not "unreachable"
        client.default_branch()
    assert info.value.status == 404


def test_issue_thread_and_permissions(github, client):
    github.add_issue(REPO, 7, title="f() returns 1", body="should be 2", author="alice")
    github.add_comment(REPO, 7, "repro: f()", author="bob")
    github.add_comment(REPO, 7, "/quorum solve", author="ci-bot[bot]", author_type="Bot")
    thread = client.issue_thread(7)
    assert (thread.title, thread.body, thread.author, thread.is_pull) == (
        "f() returns 1", "should be 2", "alice", False)
    assert [(c.author, c.author_type, c.body) for c in thread.comments] == [
        ("bob", "User", "repro: f()"), ("ci-bot[bot]", "Bot", "/quorum solve")]
    assert thread.comments[0].id == github.comments[0]["id"]
    for role in ("admin", "maintain", "write", "triage", "read"):
        github.set_permission(REPO, f"u-{role}", role)
        assert client.permission(f"u-{role}") == role
    assert client.permission("stranger") == "none"


def test_comment_and_reactions(github, client):
    github.add_issue(REPO, 3, title="t")
    cid = github.add_comment(REPO, 3, "/quorum solve", author="alice")
    new_id = client.comment(3, "On it.")
    assert github.comments[-1]["id"] == new_id
    assert github.comments_on(REPO, 3) == ["/quorum solve", "On it."]
    client.react_to_issue(3, "eyes")
    client.react_to_comment(cid, "rocket")
    assert [(r["subject"], r["target"], r["content"]) for r in github.reactions] == [
        ("issue", 3, "eyes"), ("comment", cid, "rocket")]
    with pytest.raises(GitHubError, match="invalid request to react"):
        client.react_to_issue(3, "thumbs-sideways")  # not one of GitHub's reactions
    assert len(github.reactions) == 2


def test_default_branch_and_check_runs(github, client, origin):
    branch, sha = client.default_branch()
    assert (branch, sha) == ("main", origin[1])
    run_id = client.create_check_run("Quorum", sha)
    assert github.check_runs[-1]["status"] == "queued"
    client.update_check_run(run_id, status="in_progress", title="2/4 trajectories",
                            summary="running")
    client.update_check_run(run_id, status="completed", conclusion="neutral",
                            title="abstained", summary="no candidate passed")
    run = github.check_runs[-1]
    assert (run["status"], run["conclusion"], run["output"]["title"]) == (
        "completed", "neutral", "abstained")
    assert [u["status"] for u in github.check_run_updates] == ["in_progress", "completed"]


def test_pull_failing_checks_and_reviews(github, client, origin):
    git("branch", "feature", cwd=origin[0])
    github.add_repo("acme", "widgets", origin[0])  # serve the new branch
    github.add_pull(REPO, 12, head_ref="feature", title="Fix f", body="closes #7")
    pull = client.pull(12)
    assert (pull.head_ref, pull.head_sha, pull.head_repo, pull.base_ref, pull.title) == (
        "feature", origin[1], REPO, "main", "Fix f")
    assert client.issue_thread(12).is_pull
    github.add_check_run(REPO, origin[1], "tests", conclusion="failure",
                         title="1 failed", summary="test_f", text="AssertionError: 1 != 2")
    github.add_check_run(REPO, origin[1], "lint", conclusion="success", title="ok")
    text = client.failing_checks_text(origin[1])
    assert "tests" in text and "AssertionError: 1 != 2" in text and "lint" not in text
    assert len(client.failing_checks_text(origin[1], limit=60)) <= 60
    github.add_review(REPO, 12, "Please handle None.", author="carol")
    github.add_review_comment(REPO, 12, "off by one", path="lib.py", line=2, author="dave")
    reviews = client.review_comments_text(12)
    assert "carol" in reviews and "Please handle None." in reviews
    assert "dave on lib.py:2" in reviews and "off by one" in reviews


def test_commit_files_branch_and_draft_pull(github, client, origin):
    _, base = client.default_branch()
    sha = client.commit_files(parent_sha=base, message="Fix f", files={
        "lib.py": "def f():\n    return 2\n", "run.sh": "#!/bin/sh\necho bye\n",
        "tests/test_f.py": "from lib import f\n", "docs/old.md": None})
    assert github.commits[-1]["sha"] == sha and github.commits[-1]["parents"] == [base]
    client.set_branch("quorum/issue-7", sha, create=True)
    assert github.refs[REPO]["refs/heads/quorum/issue-7"] == sha
    assert github.refs[REPO]["refs/heads/main"] == base  # nothing else moved
    files = github.files(REPO, sha)
    assert files == {"lib.py": "def f():\n    return 2\n", "run.sh": "#!/bin/sh\necho bye\n",
                     "tests/test_f.py": "from lib import f\n"}
    tree = github.file_modes(REPO, sha)
    assert tree["run.sh"] == "100755" and tree["lib.py"] == "100644"
    number, url = client.open_draft_pull(head="quorum/issue-7", base="main", title="Fix f",
                                         body="evidence")
    pull = github.pulls[-1]
    assert (pull["number"], pull["draft"], pull["head_ref"], pull["body"]) == (
        number, True, "quorum/issue-7", "evidence")
    assert url.endswith(f"/pull/{number}")
    with pytest.raises(GitHubError) as info:  # GitHub's 422 names the field
        client.open_draft_pull(head="no-such-branch", base="main", title="x", body="")
    assert info.value.status == 422 and "head invalid" in str(info.value)


def test_set_branch_refuses_a_non_fast_forward_unless_forced(github, client):
    _, base = client.default_branch()
    one = client.commit_files(parent_sha=base, message="one", files={"a.txt": "1\n"})
    two = client.commit_files(parent_sha=one, message="two", files={"a.txt": "2\n"})
    other = client.commit_files(parent_sha=base, message="other", files={"b.txt": "b\n"})
    client.set_branch("work", one, create=True)
    client.set_branch("work", two, create=False)
    assert github.refs[REPO]["refs/heads/work"] == two
    with pytest.raises(GitHubError) as info:
        client.set_branch("work", other, create=False)
    assert info.value.status == 422 and "fast forward" in str(info.value)
    client.set_branch("work", other, create=False, force=True)
    assert github.refs[REPO]["refs/heads/work"] == other


def test_clone_leaves_no_token_on_disk(github, client, tokens, origin, tmp_path):
    dest = tmp_path / "clone"
    assert client.clone(dest) == origin[1]
    assert (dest / "lib.py").read_text() == "def f():\n    return 1\n"
    token = tokens.token(INSTALLATION)
    secrets = [token.encode(), base64.b64encode(f"x-access-token:{token}".encode())]
    for path in (dest / ".git").rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert not any(s in data for s in secrets), f"token found in {path}"
    assert git("config", "--get", "remote.origin.url", cwd=dest).strip() == (
        f"{github.base_url}/{REPO}.git")


def test_clone_a_branch_made_through_the_api(github, client, tmp_path):
    _, base = client.default_branch()
    sha = client.commit_files(parent_sha=base, message="x", files={"new.txt": "new\n"})
    client.set_branch("quorum/issue-1", sha, create=True)
    dest = tmp_path / "branch"
    assert client.clone(dest, ref="quorum/issue-1") == sha
    assert (dest / "new.txt").read_text() == "new\n"


def test_clone_with_a_bad_token_fails_plainly(github, tmp_path):
    bad = RepoClient(github.base_url, lambda: "ghs_notavalidtokenatallxxxxxxxxxxxxxx", REPO)
    with pytest.raises(GitHubError, match="cannot clone") as info:
        bad.clone(tmp_path / "nope")
    assert "notavalidtoken" not in str(info.value)


def test_errors_name_the_request_not_the_token(github, client, tokens):
    with pytest.raises(GitHubError) as info:
        client.issue_thread(999)
    assert info.value.status == 404 and "issue #999" in str(info.value)
    assert tokens.token(INSTALLATION) not in str(info.value)
    expired = RepoClient(github.base_url, lambda: "ghs_expiredorneverissuedxxxxxxxxxxxxxx", REPO)
    with pytest.raises(GitHubError) as info:
        expired.default_branch()
    assert info.value.status == 401 and "expiredorneverissued" not in str(info.value)


def test_unreachable_api_is_a_plain_error():
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = RepoClient(f"http://127.0.0.1:{port}", lambda: "ghs_x", REPO)
    with pytest.raises(GitHubError, match="cannot reach GitHub"):
        client.default_branch()
