"""The stand-in judges requests by GitHub's official OpenAPI description: what GitHub would
reject is answered 404/422 and recorded in `.violations`; what it would accept is not."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from envs.gitcmd import commit_all
from tests.envs.github_standin import GitHubStandIn
from tests.helpers.openapi_check import request_violations, webhook_violations


@pytest.fixture
def github(tmp_path: Path) -> Iterator[tuple[GitHubStandIn, httpx.Client, str]]:
    work = tmp_path / "src"
    work.mkdir()
    (work / "a.txt").write_text("a\n")
    commit_all(work, "init")
    with GitHubStandIn() as standin:
        standin.add_repo("acme", "widgets", work)
        with httpx.Client(base_url=standin.base_url) as http:
            tree = http.get("/repos/acme/widgets/git/ref/heads/main").json()["object"]["sha"]
            yield standin, http, tree


def test_a_tree_entry_with_a_bad_mode_is_a_violation(github):
    standin, http, _ = github
    entry = {"path": "x.txt", "mode": "100645", "type": "blob", "content": "x"}
    resp = http.post("/repos/acme/widgets/git/trees", json={"tree": [entry]})
    assert resp.status_code == 422
    assert len(standin.violations) == 1 and "mode" in standin.violations[0]
    assert "git/create-tree" in standin.violations[0]


def test_an_unknown_path_is_a_violation(github):
    standin, http, _ = github
    resp = http.post("/repos/acme/widgets/git/branches", json={"name": "x"})
    assert resp.status_code == 404
    assert standin.violations == ["POST /repos/acme/widgets/git/branches: "
                                  "no such operation in GitHub's REST API"]


def test_a_missing_required_field_is_a_violation(github):
    standin, http, _ = github
    resp = http.post("/repos/acme/widgets/check-runs", json={"name": "Quorum"})
    assert resp.status_code == 422
    assert any("head_sha" in v for v in standin.violations)
    assert standin.check_runs == []


def test_correct_requests_are_not_violations(github):
    standin, http, head = github
    entry = {"path": "x.txt", "mode": "100644", "type": "blob", "content": "x\n"}
    tree = http.post("/repos/acme/widgets/git/trees", json={"tree": [entry]})
    assert tree.status_code == 201
    commit = http.post("/repos/acme/widgets/git/commits",
                       json={"message": "x", "tree": tree.json()["sha"], "parents": [head]})
    assert commit.status_code == 201
    ref = http.patch("/repos/acme/widgets/git/refs/heads/main",
                     json={"sha": commit.json()["sha"], "force": False})
    assert ref.status_code == 200
    # without base_tree a tree holds only its own entries, as on GitHub
    assert standin.files("acme/widgets", "main") == {"x.txt": "x\n"}
    assert standin.violations == []


def test_nullable_and_ref_parameters_follow_the_description():
    # a null tree sha deletes a path (OpenAPI 3.0 `nullable`); {ref} may hold slashes
    delete = {"tree": [{"path": "a", "mode": "100644", "type": "blob", "sha": None}]}
    assert request_violations("POST", "/repos/o/r/git/trees", delete, has_body=True) == []
    assert request_violations("GET", "/repos/o/r/git/ref/heads/quorum/issue-7") == []
    assert request_violations("PATCH", "/repos/o/r/check-runs/5",
                              {"status": "completed", "conclusion": "bogus"},
                              has_body=True) != []


def test_webhook_payloads_are_checked_against_the_webhook_schemas():
    problems = webhook_violations("issues", {"action": "labeled"})
    assert any("'issue' is a required property" in p for p in problems)
    assert any("issues-labeled" in p for p in problems)
    assert webhook_violations("no_such_event", {"action": "x"}) == [
        "no_such_event/x: no such webhook in GitHub's webhook schemas"]
