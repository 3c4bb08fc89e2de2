import socket
from pathlib import Path

import pytest

from envs.errors import (
    CloneError,
    EmptyIssue,
    IssueFetchError,
    IssueNotFound,
    IssueUnreachable,
    NotAnIssue,
    RateLimited,
)
from envs.gitcmd import commit_all, git
from envs.sources.github import fetch_issue, parse_issue_url, task_from_github
from tests.envs.github_standin import Answer, GitHubStandIn

URL = "https://github.com/acme/widgets/issues/7"
TOKEN = "ghp_secret_token_value"


@pytest.fixture
def api():
    with GitHubStandIn() as server:
        yield server


def test_parse_issue_urls():
    ref = parse_issue_url(URL + "#issuecomment-1")
    assert (ref.host, ref.repo, ref.number) == ("github.com", "acme/widgets", 7)
    assert ref.default_api_base() == "https://api.github.com"
    ghe = parse_issue_url("https://git.corp.example/team/tool/issues/3")
    assert ghe.default_api_base() == "https://git.corp.example/api/v3"
    assert ghe.default_clone_url() == "https://git.corp.example/team/tool.git"


@pytest.mark.parametrize("url", ["https://github.com/acme/widgets/pull/7",
                                 "https://github.com/acme/widgets/pulls/7"])
def test_pull_request_url_is_refused(url: str):
    with pytest.raises(NotAnIssue, match="pull request"):
        parse_issue_url(url)


@pytest.mark.parametrize("url", ["github.com/acme/widgets/issues/7",
                                 "https://github.com/acme/widgets",
                                 "https://github.com/acme/widgets/issues/latest"])
def test_malformed_urls(url: str):
    with pytest.raises(NotAnIssue, match="not an issue URL"):
        parse_issue_url(url)


def test_task_from_issue_clones_the_repository(api, bare_origin, tmp_path: Path):
    bare, sha = bare_origin
    api.issue("acme", "widgets", 7, title="f() returns 1", body="It should return 2.")
    task = task_from_github(URL, workdir=tmp_path / "cache", token=TOKEN,
                            api_base=api.base_url, clone_url=str(bare))
    assert task.id == "acme__widgets-7"
    assert task.source == "github" and task.url == URL
    assert task.problem_statement == "f() returns 1\n\nIt should return 2.\n"
    assert task.base_commit == sha
    assert Path(task.repo) == (tmp_path / "cache" / "acme+widgets").resolve()
    assert (Path(task.repo) / "lib.py").is_file()
    seen = api.requests[0]
    assert seen.path == "/repos/acme/widgets/issues/7"
    assert seen.headers["Authorization"] == f"Bearer {TOKEN}"
    assert seen.headers["Accept"] == "application/vnd.github+json"
    assert seen.headers["X-GitHub-Api-Version"] == "2022-11-28"  # GHES answers it too


def test_second_run_refreshes_the_cached_clone(api, bare_origin, tmp_path: Path):
    bare, _ = bare_origin
    api.issue("acme", "widgets", 7, title="t", body="b")
    kwargs = {"workdir": tmp_path / "cache", "api_base": api.base_url, "clone_url": str(bare)}
    task_from_github(URL, **kwargs)
    work = tmp_path / "origin-work"
    (work / "lib.py").write_text("def f():\n    return 2\n")
    new_sha = commit_all(work, "second")
    git("push", "-q", str(bare), "HEAD:main", cwd=work)
    assert task_from_github(URL, **kwargs).base_commit == new_sha


def test_clone_from_a_mirror_directory(api, bare_origin, tmp_path: Path):
    bare, sha = bare_origin
    mirror = tmp_path / "mirror"
    (mirror / "acme").mkdir(parents=True)
    bare.rename(mirror / "acme" / "widgets.git")
    api.issue("acme", "widgets", 7, title="t", body="b")
    task = task_from_github(URL, workdir=tmp_path / "cache", api_base=api.base_url,
                            mirror_dir=mirror)
    assert task.base_commit == sha


def test_no_token_sends_no_authorization(api):
    api.issue("acme", "widgets", 7, title="t", body=None)
    issue = fetch_issue(parse_issue_url(URL), api_base=api.base_url)
    assert "Authorization" not in api.requests[0].headers
    assert issue.text == "t\n"


def test_not_found(api):
    with pytest.raises(IssueNotFound, match="acme/widgets#7") as info:
        fetch_issue(parse_issue_url(URL), api_base=api.base_url)
    assert "GITHUB_TOKEN" in (info.value.hint or "")


@pytest.mark.parametrize("status", [403, 429])
def test_rate_limit_names_the_reset_time(api, status: int):
    api.routes["/repos/acme/widgets/issues/7"] = Answer(
        status, {"message": "API rate limit exceeded"},
        {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": "1900000000"})
    with pytest.raises(RateLimited) as info:
        fetch_issue(parse_issue_url(URL), token=TOKEN, api_base=api.base_url)
    assert info.value.reset_at == "2030-03-17 17:46:40 UTC"
    assert "2030-03-17 17:46:40 UTC" in str(info.value)
    assert TOKEN not in str(info.value)


def test_forbidden_without_rate_limit_is_an_access_error(api):
    api.routes["/repos/acme/widgets/issues/7"] = Answer(403, {"message": "Forbidden"})
    with pytest.raises(IssueFetchError, match="refused access") as info:
        fetch_issue(parse_issue_url(URL), token=TOKEN, api_base=api.base_url)
    assert not isinstance(info.value, RateLimited)


def test_unreachable_api_names_the_url():
    with socket.socket() as sock:  # a port that was free a moment ago: nothing listens
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    base = f"http://127.0.0.1:{port}"
    with pytest.raises(IssueUnreachable) as info:
        fetch_issue(parse_issue_url(URL), token=TOKEN, api_base=base)
    assert f"{base}/repos/acme/widgets/issues/7" in str(info.value)
    assert TOKEN not in str(info.value)


def test_pull_request_behind_an_issue_url(api):
    api.issue("acme", "widgets", 7, title="Fix it", body="", pull_request=True)
    with pytest.raises(NotAnIssue, match="pull request"):
        fetch_issue(parse_issue_url(URL), api_base=api.base_url)


def test_empty_issue(api, tmp_path: Path):
    api.issue("acme", "widgets", 7, title=" ", body=None)
    with pytest.raises(EmptyIssue):
        task_from_github(URL, workdir=tmp_path, api_base=api.base_url, clone_url="unused")


def test_clone_failure_is_clear(api, tmp_path: Path):
    api.issue("acme", "widgets", 7, title="t", body="b")
    with pytest.raises(CloneError, match="cannot clone"):
        task_from_github(URL, workdir=tmp_path / "cache", api_base=api.base_url,
                         clone_url=str(tmp_path / "no-such.git"))
    assert not (tmp_path / "cache" / "acme+widgets").exists()


def test_comments_join_the_problem_statement_in_order(api):
    api.issue("acme", "widgets", 7, title="f() returns 1", body="It should return 2.")
    api.add_comment("acme/widgets", 7, "Repro: `python -c 'import lib; print(lib.f())'`",
                    author="alice")
    api.add_comment("acme/widgets", 7, "Same on 3.12.", author="bob")
    issue = fetch_issue(parse_issue_url(URL), api_base=api.base_url)
    assert [(c.author, c.body) for c in issue.comments] == [
        ("alice", "Repro: `python -c 'import lib; print(lib.f())'`"), ("bob", "Same on 3.12.")]
    assert issue.text == ("f() returns 1\n\nIt should return 2.\n"
                          "\n---\nComment by alice:\nRepro: `python -c 'import lib; "
                          "print(lib.f())'`\n"
                          "\n---\nComment by bob:\nSame on 3.12.\n")
    assert api.violations == []


def test_a_long_thread_is_read_across_pages_and_bounded(api):
    api.issue("acme", "widgets", 7, title="t", body="b")
    for i in range(150):
        api.add_comment("acme/widgets", 7, f"comment {i} " + "x" * 200, author=f"u{i}")
    issue = fetch_issue(parse_issue_url(URL), api_base=api.base_url)
    assert len(issue.comments) == 150  # two pages of 100
    text = issue.text
    assert "Comment by u0:" in text and "Comment by u149:" not in text
    assert text.rstrip().endswith("more comments not shown]")
    assert len(text) < 21_000
