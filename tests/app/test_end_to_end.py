"""The App end to end on loopback: a signed `issues.labeled` delivery to the running server
(B's FastAPI app, its queue and workers), the job flow with the stateful GitHub stand-in and
the scripted models, real Docker sandboxes — ending in a draft pull request on quorum/issue-N
whose body carries the evidence."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from quorum.app.server import create_app
from tests.agent.scripted import solver_script
from tests.app.handler_kit import INSTALLATION, ISSUE, MAINTAINER, REPO, SECRET, world
from tests.helpers.webhooks import issue_labeled, signed_delivery

pytestmark = pytest.mark.docker


def _wait(done: Callable[[], bool], timeout_s: float = 240) -> None:
    deadline = time.monotonic() + timeout_s
    while not done():
        assert time.monotonic() < deadline, "the job did not finish in time"
        time.sleep(0.2)


def test_a_labelled_issue_ends_in_a_draft_pull_request_with_the_evidence(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title="add(1, 2) returns -1",
                           body="pkg.calc.add subtracts instead of adding.")
        w.models.script_for("good-a", *solver_script("add(1, 2) == 3", "a + b"))
        w.models.script_for("good-b", *solver_script("add(5, 5) == 10", "b + a"))
        payload = issue_labeled(REPO, ISSUE, sender=MAINTAINER, installation_id=INSTALLATION,
                                title="add(1, 2) returns -1")
        headers, body = signed_delivery(SECRET, "issues", payload)
        with TestClient(create_app(w.settings, w.handler)) as client:
            assert client.post("/webhooks", content=body, headers=headers).status_code == 202
            assert client.post("/webhooks", content=body, headers=headers).status_code < 300

            def finished() -> bool:
                return any(c["status"] == "completed" for c in w.github.check_runs)

            _wait(finished)
        [pull] = w.github.pulls
        assert pull["draft"] is True and pull["head_ref"] == f"quorum/issue-{ISSUE}"
        assert pull["base_ref"] == "main"
        text = pull["body"]
        assert "| candidate | cluster | G1 | G2 | regressions | verifier | score |" in text
        assert "| unpatched | — | ❌ | ❌ |" in text
        chosen = next(line for line in text.splitlines() if " ✓ | A |" in line)
        assert "✅ | ✅" in chosen  # the chosen candidate passes both generated tests
        assert "### Clusters and votes" in text and "of this job's $5.00 cap" in text
        files = w.github.files(REPO, f"quorum/issue-{ISSUE}")
        assert files["pkg/calc.py"] in ("def add(a, b):\n    return a + b\n",
                                        "def add(a, b):\n    return b + a\n")
        assert "test_repro_issue.py" not in files  # the agent's own test is not committed
        assert w.github.refs[REPO]["refs/heads/main"] == w.main_sha
        [check] = w.github.check_runs
        assert check["conclusion"] == "success" and check["head_sha"] == w.main_sha
        progress = [u for u in w.github.check_run_updates if u.get("status") == "in_progress"]
        assert any("2 of 2 trajectories done" in str(u) for u in progress)
        assert [(r["subject"], r["content"]) for r in w.github.reactions] == [("issue", "eyes")]
        assert len(w.github.comments) == 0  # the evidence is in the pull request
        [cost] = w.settings.workdir.glob("jobs/*/run/cost.json")
        usd = json.loads(cost.read_text())["total"]["usd"]
        assert usd > 0 and w.handler.spend.remaining(INSTALLATION).usd == pytest.approx(5 - usd)
        assert w.github.violations == []
        (tmp_path / "pr_body.md").write_text(text)  # the README's example comes from here
