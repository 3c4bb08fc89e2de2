"""SolveHandler driven directly with a Job: who may run it, what a run ends in, and what it
leaves on GitHub (the stateful stand-in; every request GitHub's schema would accept)."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from quorum.app.spend import spent
from quorum.app.store import JobOutcome
from quorum.solve import SpendJournal
from tests.agent.scripted import solver_script
from tests.app.handler_kit import INSTALLATION, ISSUE, MAINTAINER, READER, REPO, World, world
from tests.helpers.openai_standin import Reply

BUG = ("add(1, 2) returns -1", "pkg.calc.add subtracts instead of adding.")


def _run(w: World, job_id: int = 1, *, resumed: bool = False, **trigger: object) -> JobOutcome:
    return asyncio.run(w.handler(w.job(job_id, **trigger), resumed=resumed))


def _conclusions(w: World) -> list[str | None]:
    return [c["conclusion"] for c in w.github.check_runs]


def test_a_reader_is_refused_once_per_issue_however_often_they_ask(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        first = _run(w, 1, sender=READER, via="comment", comment_id=11)
        second = _run(w, 2, sender=READER, via="comment", comment_id=12)
        assert (first.state, second.state) == ("refused", "refused")
        [refusal] = w.github.comments_on(REPO, ISSUE)
        assert f"@{READER}" in refusal and "write access" in refusal and "(yours: read)" in refusal
        assert w.github.check_runs == [] and w.github.reactions == []  # nothing acknowledged
        assert not (w.settings.workdir / "jobs" / "1").exists()  # nothing cloned
        assert w.github.violations == []


def test_a_bot_is_ignored_without_a_word(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        outcome = _run(w, sender="dependabot[bot]", sender_type="Bot")
        assert outcome.state == "ignored"
        assert w.github.requests == []  # not even a token was asked for


def test_a_job_over_the_monthly_cap_is_refused_saying_what_is_left(tmp_path: Path) -> None:
    with world(tmp_path, monthly_tokens=10_000) as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        w.handler.spend.add(4242, 0.0, 9_000)  # earlier jobs this month
        outcome = _run(w)
        assert outcome.state == "refused"
        [comment] = w.github.comments_on(REPO, ISSUE)
        assert "Quorum did not start" in comment and "1,000 tokens left for" in comment
        assert _conclusions(w) == ["neutral"]
        assert not (w.settings.workdir / "jobs" / "1" / "repo").exists()  # refused before cloning
        assert w.models.requests == []  # no model call was made
        assert w.github.violations == []


def test_a_wrong_config_fails_with_its_file_and_line(tmp_path: Path) -> None:
    with world(tmp_path, config="n: 2\nbudget_dollars: 3\n") as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        outcome = _run(w)
        assert outcome.state == "failed"
        [comment] = w.github.comments_on(REPO, ISSUE)
        assert ".github/quorum.yml:2: budget_dollars" in comment
        assert "Traceback" not in comment and str(tmp_path) not in comment
        assert _conclusions(w) == ["failure"]
        assert [r["content"] for r in w.github.reactions] == ["eyes"]
        assert w.github.violations == []


@pytest.mark.docker
def test_an_abstention_ends_in_a_comment_and_a_neutral_check_run(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        refs_before = w.github.refs
        for model in ("good-a", "good-b"):  # a model that never produces a patch
            w.models.script_for(model, *[Reply.text("I would rather not.")] * 6)
        outcome = _run(w)
        assert outcome == JobOutcome(state="done", note="abstained")
        [comment] = w.github.comments_on(REPO, ISSUE)
        assert comment.startswith("## Quorum abstained: no patch is proposed")
        assert "**Why:** No candidate changes any code" in comment
        assert "Without a patch: r0-t0 (format_errors), r0-t1 (format_errors)" in comment
        assert _conclusions(w) == ["neutral"]
        assert w.github.pulls == [] and w.github.refs == refs_before
        assert w.github.violations == []


@pytest.mark.docker
def test_quorum_fix_pushes_a_commit_onto_the_pull_requests_branch(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        head = w.github.refs[REPO]["refs/heads/feature"]
        w.github.add_pull(REPO, 9, head_ref="feature", title="Add mul",
                          body="Adds pkg.mul; CI fails on add.")
        w.github.add_check_run(REPO, head, "tests", conclusion="failure", title="1 failed",
                               summary="FAILED test_calc.py::test_add - assert add(1, 2) == 3")
        w.github.add_review(REPO, 9, "add() must add, not subtract.")
        w.models.script_for("good-a", *solver_script("add(1, 2) == 3", "a + b"))
        w.models.script_for("good-b", *solver_script("add(5, 5) == 10", "b + a"))
        ask = w.github.add_comment(REPO, 9, "/quorum fix", author=MAINTAINER)
        outcome = _run(w, kind="fix", number=9, via="comment", comment_id=ask)
        assert outcome.state == "done" and outcome.note.startswith("pushed "), outcome
        sha = outcome.note.split()[1]
        assert w.github.ref_updates == [
            {"repo": REPO, "ref": "refs/heads/feature", "sha": sha, "force": False}]
        files = w.github.files(REPO, "feature")
        assert "return a + b" in files["pkg/calc.py"] or "return b + a" in files["pkg/calc.py"]
        assert "pkg/mul.py" in files and "test_repro_issue.py" not in files
        assert w.github.refs[REPO]["refs/heads/main"] == w.main_sha
        prompt = str(w.models.requests[0].body["messages"])
        assert "assert add(1, 2) == 3" in prompt and "must add, not subtract" in prompt
        [_, comment] = w.github.comments_on(REPO, 9)
        assert f"Pushed {sha[:12]} to `feature`" in comment and "| **r0-" in comment
        [check] = [c for c in w.github.check_runs if c["name"] == "Quorum"]
        assert check["head_sha"] == head and check["conclusion"] == "success"
        assert [r["subject"] for r in w.github.reactions] == ["comment"]
        # a restart after the push: the job is done, nothing is pushed twice
        assert _run(w, kind="fix", number=9, via="comment", comment_id=ask,
                    resumed=True).state == "done"
        assert len(w.github.ref_updates) == 1 and len(w.github.comments) == 2
        assert w.github.violations == []




def test_a_wrong_command_gets_one_usage_reply_per_comment(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        outcome = _run(w, via="comment", comment_id=5, usage_error="-n must be a number")
        assert outcome.state == "refused"
        assert _run(w, 2, via="comment", comment_id=5, usage_error="-n must be a number"
                    ).state == "refused"  # the same comment delivered again: no second reply
        [reply] = w.github.comments_on(REPO, ISSUE)
        assert reply.startswith("-n must be a number") and "usage: `/quorum solve" in reply
        assert w.github.check_runs == []


def test_a_job_interrupted_twice_is_reported_not_run(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        job = w.job().model_copy(update={"state": "failed"})
        outcome = asyncio.run(w.handler(job, resumed=True))
        assert outcome.state == "failed"
        [comment] = w.github.comments_on(REPO, ISSUE)
        assert "interrupted twice" in comment and "/quorum solve" in comment
        assert w.models.requests == [] and w.github.pulls == []


@pytest.mark.docker
def test_a_patch_touching_a_protected_path_is_refused_in_plain_words(tmp_path: Path) -> None:
    with world(tmp_path) as w:
        w.github.add_issue(REPO, ISSUE, title=BUG[0], body=BUG[1])
        refs_before = w.github.refs
        sneaky = solver_script("add(1, 2) == 3", "a + b")
        sneaky.insert(-1, Reply.tool_call("edit", {
            "command": "create", "path": ".github/workflows/ci.yml", "overwrite": True,
            "file_text": "on: push\njobs: {exfiltrate: {runs-on: ubuntu-latest}}\n"},
            call_id="w9"))  # fmt: skip
        w.models.script_for("good-a", *sneaky)
        w.models.script_for("good-b", *[Reply.text("no.")] * 4)
        outcome = _run(w)
        assert outcome.state == "failed"
        [comment] = w.github.comments_on(REPO, ISSUE)
        assert "Quorum selected a patch but did not push it" in comment
        assert ".github/workflows/ci.yml" in comment and "nothing was pushed" in comment
        assert _conclusions(w) == ["failure"]
        assert w.github.refs == refs_before and w.github.pulls == [] and w.github.commits == []
        # a failed job's spend is still counted: what its run's ledger journal holds
        usd, tokens = spent(SpendJournal(w.settings.workdir / "jobs/1/run/spend.jsonl").read())
        left = w.handler.spend.remaining(INSTALLATION)
        assert usd > 0 and left.usd == pytest.approx(5.0 - usd)
        assert left.tokens == 2_000_000 - tokens
        assert w.github.violations == []
