"""Who cannot start a run, from the delivery's payload to the reply on GitHub: a pull request
from a fork asked to `/quorum fix`, and a label added by someone without write access (the
label's sender is checked, not the issue's author)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

from quorum.app.store import Job
from quorum.app.triggers import Trigger, trigger_from_event
from tests.app.handler_kit import INSTALLATION, ISSUE, MAINTAINER, REPO, World, world
from tests.helpers.webhooks import issue_comment, issue_labeled


def _job(trigger: Trigger | None, job_id: int = 1) -> Job:
    assert trigger is not None
    now = time.time()
    return Job(id=job_id, delivery_id=f"d-{job_id}", trigger=trigger, state="running",
               attempts=1, created_at=now, updated_at=now)


def _handle(w: World, job: Job) -> tuple[str, str]:
    outcome = asyncio.run(w.handler(job, resumed=False))
    return outcome.state, outcome.note


def test_quorum_fix_on_a_pull_request_from_a_fork_is_refused_in_plain_words(
        tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_pull(REPO, 9, head_ref="patch-1", head_sha="a" * 40,
                          head_repo="stranger/widgets", title="Fix add", body="please")
        ask = w.github.add_comment(REPO, 9, "/quorum fix", author=MAINTAINER)
        payload = issue_comment(REPO, 9, body="/quorum fix", sender=MAINTAINER,
                                comment_id=ask, installation_id=INSTALLATION, pull=True)
        trigger = trigger_from_event("issue_comment", payload)
        assert trigger is not None and trigger.kind == "fix"
        assert _handle(w, _job(trigger)) == ("refused", "fork")
        assert _handle(w, _job(trigger, 2)) == ("refused", "fork")  # asked again: no 2nd reply
        [ask_text, reply] = w.github.comments_on(REPO, 9)
        assert ask_text == "/quorum fix"
        assert "stranger/widgets, a fork" in reply and "only pushes to branches of this" in reply
        assert "Push the branch here" in reply and "error:" not in reply
        assert w.github.check_runs == [] and w.github.commits == []
        assert w.github.ref_updates == [] and w.models.requests == []
        assert not (w.settings.workdir / "jobs" / "1" / "repo").exists()  # nothing cloned
        assert w.github.violations == []


def test_a_label_added_by_someone_without_write_access_is_refused(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title="bug", body="x", author=MAINTAINER)
        w.github.set_permission(REPO, "triager", "triage")  # may label, may not push
        payload = issue_labeled(REPO, ISSUE, sender="triager", installation_id=INSTALLATION)
        trigger = trigger_from_event("issues", payload)
        assert trigger is not None and trigger.sender == "triager"
        assert _handle(w, _job(trigger)) == ("refused", "permission")
        [reply] = w.github.comments_on(REPO, ISSUE)
        assert "@triager" in reply and "(yours: triage)" in reply
        assert w.github.check_runs == [] and w.github.reactions == []
        assert w.github.violations == []
