"""The job flow: from a trigger to a draft pull request, an abstention comment, or a plain
refusal — what `quorum app`'s workers run (B's `JobHandler`).

permission (write, maintain, admin; bots never) -> acknowledge (reaction + check run
"queued") -> clone outside any sandbox -> .github/quorum.yml -> the installation's monthly
spend -> `quorum.solve.solve` (run directory workdir/jobs/<id>/run: a resumed job resumes
it) -> publish from the selected patch, or comment why not -> settle the spend from the run's
ledger journal. GitHub is called from a thread of the job's own (githubkit is synchronous):
the webhook server's event loop never waits on a job.

Errors reach the issue as one comment through `quorum.errors.format_error`, redacted; an
error Quorum did not expect is named by its type only (the log has the rest, redacted)."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any

from agent.llm import Endpoint
from agent.redact import redact
from agent.rollout import RolloutConfig, RolloutEvents
from quorum.app.checkout import Checkout, clone_once, fix_statement, issue_statement, job_task
from quorum.app.github_ops import GitHubError, PullInfo, RepoClient
from quorum.app.publish import (
    PublishError,
    branch_for,
    changed_files,
    publish_fix,
    publish_pull,
)
from quorum.app.refusals import RefusalBook
from quorum.app.repo_config import Limits, RepoConfig, load_repo_config
from quorum.app.settings import AppSettings
from quorum.app.spend import SpendBook, SpendRefused, spent
from quorum.app.store import Job, JobOutcome
from quorum.app.triggers import USAGE, Trigger
from quorum.errors import format_error
from quorum.report.render import render_abstention_comment, render_pr_body
from quorum.report.view import build_view
from quorum.sandboxes import Backend
from quorum.solve import SolveOptions, SpendJournal, solve
from sandbox.errors import QuorumError

log = logging.getLogger("quorum.app.handler")
CHECK_NAME = "Quorum"
WRITE_ACCESS = frozenset({"admin", "maintain", "write"})
PROGRESS_EVERY_S = 5.0

ClientFactory = Callable[[int, str], RepoClient]  # (installation id, "owner/name")
EndpointFactory = Callable[[Sequence[str]], AbstractContextManager[list[Endpoint]]]


class SolveHandler:
    def __init__(
        self,
        settings: AppSettings,
        *,
        clients: ClientFactory,
        endpoints: EndpointFactory,
        verifiers: EndpointFactory | None = None,
        sandbox: Backend = "docker",
        limits: Limits | None = None,
        progress_every_s: float = PROGRESS_EVERY_S,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.endpoints = endpoints
        self.verifiers = verifiers or endpoints
        self.sandbox = sandbox
        self.limits = limits or Limits(
            max_budget_usd=None, max_budget_tokens=None, allowed_models=settings.allowed_models
        )
        self.progress_every_s = progress_every_s
        self.spend = SpendBook(settings.db_path, monthly_usd=settings.monthly_usd,
                               monthly_tokens=settings.monthly_tokens)  # fmt: skip
        self.refusals = RefusalBook(settings.db_path)

    @classmethod
    def from_settings(cls, settings: AppSettings, environ: Mapping[str, str] | None = None,
                      *, endpoints: EndpointFactory | None = None,
                      verifiers: EndpointFactory | None = None,
                      sandbox: Backend = "docker") -> SolveHandler:
        """Everything from the settings: installation tokens from the App's key, one
        RepoClient per repository, the models by the names `quorum solve --model` takes
        (API keys from `environ`, read here once). `endpoints` and `verifiers` replace how
        model names become solver and verifier endpoints (tests: a scripted server)."""
        from quorum.app.auth import AppCredentials, InstallationTokens
        from quorum.models import endpoints_for
        from quorum.paths import cache_dir

        env = dict(os.environ if environ is None else environ)
        tokens = InstallationTokens(
            AppCredentials(app_id=settings.app_id, private_key_pem=settings.private_key_pem),
            settings.github_api_url,
        )

        def clients(installation: int, repo: str) -> RepoClient:
            return RepoClient(settings.github_api_url, tokens.source(installation), repo)

        def named(names: Sequence[str]) -> AbstractContextManager[list[Endpoint]]:
            return endpoints_for(names, env, models_file=settings.models_file,
                                 cache_dir=cache_dir(env))

        def judges(names: Sequence[str]) -> AbstractContextManager[list[Endpoint]]:
            # its own endpoint: an embedded verifier is a server of its own, logprobs on
            return endpoints_for(names, env, models_file=settings.models_file,
                                 cache_dir=cache_dir(env), logprobs=True)

        return cls(settings, clients=clients, endpoints=endpoints or named,
                   verifiers=verifiers or judges, sandbox=sandbox)

    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome:
        return await asyncio.to_thread(self.run, job, resumed=resumed)

    # --- the flow, in a thread of its own -------------------------------------------------
    def run(self, job: Job, *, resumed: bool) -> JobOutcome:
        t = job.trigger
        if t.sender_is_bot or t.sender_type == "Bot":
            return JobOutcome(state="ignored", note=f"{t.sender} is a bot")
        gh = self.clients(t.installation_id, t.repo)
        state = JobState(self.job_dir(job) / "state.json")
        if job.state == "failed":  # interrupted twice: report, never run again
            return self._report_interrupted(gh, job, state)
        permission = gh.permission(t.sender)
        if permission not in WRITE_ACCESS:
            return self._refuse_once(gh, t, "permission", _no_access(t.sender, permission))
        if t.usage_error:
            return self._refuse_once(gh, t, f"usage:{t.comment_id}",
                                     f"{t.usage_error}\n\n{USAGE}")
        if state.get("published"):  # a restart after publishing, before the outcome landed
            return JobOutcome(state="done", note=str(state.get("published")))
        flow = _Flow(self, gh, job, state)
        return flow.run(resumed=resumed)

    def job_dir(self, job: Job) -> Path:
        return self.settings.workdir / "jobs" / str(job.id)

    def _refuse_once(self, gh: RepoClient, t: Trigger, reason: str, text: str) -> JobOutcome:
        if self.refusals.first(t.repo, t.number, reason):
            try:
                gh.comment(t.number, text)
            except GitHubError:
                self.refusals.forget(t.repo, t.number, reason)
                raise
        return JobOutcome(state="refused", note=reason.split(":")[0])

    def _report_interrupted(self, gh: RepoClient, job: Job, state: JobState) -> JobOutcome:
        text = ("Quorum's run for this was interrupted twice (the app restarted while it ran) "
                "and has stopped; nothing was pushed.\n\nTo try again, comment "
                "`/quorum solve`" + (" (`/quorum fix` on a pull request)." if
                                      job.trigger.kind == "fix" else "."))
        # its reservation (perhaps all that was left this month) becomes what it spent
        usd, tokens = spent(SpendJournal(self.job_dir(job) / "run" / "spend.jsonl").read())
        self.spend.settle(spend_key(job), usd=usd, tokens=tokens,
                          installation=job.trigger.installation_id)
        gh.comment(job.trigger.number, text)
        check = state.get("check_id")
        if isinstance(check, int):
            gh.update_check_run(check, status="completed", conclusion="failure",
                                title="Interrupted twice", summary=text)
        return JobOutcome(state="failed", note="interrupted twice")


class JobState:
    """A job's small durable state (its check run, whether it published), so a resumed job
    neither opens a second check run nor a second pull request."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def _read(self) -> dict[str, Any]:
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> Any:
        return self._read().get(key)

    def set(self, **values: Any) -> None:
        data = {**self._read(), **values}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        tmp.replace(self.path)


class _Flow:
    """One accepted job, from acknowledgement to its outcome."""

    def __init__(self, handler: SolveHandler, gh: RepoClient, job: Job, state: JobState) -> None:
        self.h, self.gh, self.job, self.state = handler, gh, job, state
        self.t = job.trigger
        self.dir = handler.job_dir(job)
        self.run_dir = self.dir / "run"
        self.spend_key = spend_key(job)
        self.check_id: int | None = None
        self.reserved = False

    def run(self, *, resumed: bool) -> JobOutcome:
        try:
            pull = self.gh.pull(self.t.number) if self.t.kind == "fix" else None
            if pull is not None and pull.head_repo.casefold() != self.t.repo.casefold():
                return self.h._refuse_once(self.gh, self.t, "fork", _from_fork(pull))
            base_ref, head_sha = self._acknowledge(pull)
            # nothing left: refused before cloning (a resumed job's own reservation is its)
            self.h.spend.check(self.t.installation_id, job=self.spend_key)
            checkout = Checkout(
                repo_dir=self.dir / "repo", base_ref=base_ref,
                base_sha=clone_once(self.gh, self.dir / "repo",
                                    ref=pull.head_ref if pull else None),
            )  # fmt: skip
            if pull is not None and checkout.base_sha != head_sha:
                log.info("job %s: %s moved to %s while cloning", self.job.id, base_ref,
                         checkout.base_sha[:12])
            config = load_repo_config(checkout.repo_dir, self.h.limits)
            task = job_task(checkout, repo=self.t.repo, number=self.t.number,
                            statement=self._statement(pull), kind=self.t.kind,
                            setup=config.setup, test_command=config.test_command)
            options = self._options(config)
            self.state.set(base_sha=checkout.base_sha)
            outcome = self._solve(task, options, config)
            return self._publish(checkout, config, pull, outcome.selection.abstained)
        except SpendRefused as exc:
            return self._finish_refused(exc)
        except Exception as exc:  # every error ends as one plain comment, never a trace
            return self._finish_failed(exc)
        finally:
            self._settle()

    # --- steps ----------------------------------------------------------------------------
    def _acknowledge(self, pull: PullInfo | None) -> tuple[str, str]:
        """A reaction and a check run "queued", at once; (base branch, its head)."""
        if self.t.comment_id is not None:
            self.gh.react_to_comment(self.t.comment_id, "eyes")
        else:
            self.gh.react_to_issue(self.t.number, "eyes")
        if pull is not None:
            base_ref, head_sha = pull.head_ref, pull.head_sha
        else:
            base_ref, head_sha = self.gh.default_branch()
        known = self.state.get("check_id")
        if isinstance(known, int):
            self.check_id = known
        else:
            self.check_id = self.gh.create_check_run(CHECK_NAME, head_sha, status="queued")
            self.state.set(check_id=self.check_id, head_sha=head_sha)
        return base_ref, head_sha

    def _statement(self, pull: PullInfo | None) -> str:
        if pull is None:
            return issue_statement(self.gh.issue_thread(self.t.number))
        return fix_statement(pull, self.gh.failing_checks_text(pull.head_sha),
                             self.gh.review_comments_text(pull.number))

    def _options(self, config: RepoConfig) -> SolveOptions:
        ask_usd = _least(config.budget_usd, self.t.budget_usd)
        budget = self.h.spend.reserve(
            self.t.installation_id, self.spend_key, usd=ask_usd, tokens=config.budget_tokens,
            must_fit=self.t.budget_usd is not None,  # a person's explicit ask is not cut
        )  # fmt: skip
        self.reserved = True
        n = min(self.t.n or config.n, self.h.limits.max_n)
        return SolveOptions(
            rollout=RolloutConfig(n=n, rounds=config.rounds, solver=config.solver,
                                  concurrency=min(n, 4)),
            budget_usd=budget.usd, budget_tokens=budget.tokens, sandbox=self.h.sandbox,
        )  # fmt: skip

    def _solve(self, task: Any, options: SolveOptions, config: RepoConfig) -> Any:
        names = config.models or ([self.h.settings.model] if self.h.settings.model else [])
        if not names:
            raise QuorumError("no model is configured for the app",
                              hint="set QUORUM_APP_MODEL (a name `quorum solve --model` takes)")
        progress = _CheckProgress(self.gh, self.check_id, options.rollout.n,
                                  self.h.progress_every_s)
        self._check("in_progress", title="Running",
                    summary=f"{options.rollout.n} trajectories x {options.rollout.rounds} "
                            "round(s) started.")  # fmt: skip
        self.run_dir.mkdir(parents=True, exist_ok=True)
        verifier = self.h.settings.verifier_model
        with (self.h.endpoints(names) as endpoints,
              self.h.verifiers([verifier] if verifier else []) as judges):
            judge = judges[0] if judges else None
            if judge is not None and not judge.config.supports_logprobs:
                raise QuorumError(f"the verifier model {verifier} is not configured with "
                                  "logprobs", hint="set supports_logprobs = true for it in the "
                                  "models file, or unset QUORUM_APP_VERIFIER_MODEL")
            outcome = asyncio.run(solve(task, endpoints, options, self.run_dir,
                                        events=progress, progress=progress.say,
                                        verifier=judge))  # fmt: skip
        progress.matrix(self.run_dir)
        return outcome

    def _publish(self, checkout: Checkout, config: RepoConfig, pull: PullInfo | None,
                 abstained: bool) -> JobOutcome:
        self._settle()  # what is left, as the comment says it, counts this run
        note = (f"Spend this month: {self.h.spend.remaining(self.t.installation_id).words()} "
                "for this installation.")
        view = build_view(self.run_dir)
        if abstained:
            body = render_abstention_comment(view, note=note)
            self.gh.comment(self.t.number, body)
            self._check("completed", "neutral", "Abstained", body)
            self.state.set(published="abstained")
            return JobOutcome(state="done", note="abstained")
        patch = (self.run_dir / "patch.diff").read_text()
        files = changed_files(checkout.repo_dir, checkout.base_sha, patch, config.protected_paths)
        chosen = view.outcome.chosen or "?"
        message = (f"Quorum: candidate {chosen} for #{self.t.number}\n\nSelected among "
                   f"{len(view.solvers)} candidates (confidence "
                   f"{view.outcome.confidence or 0:.2f}); the evidence is in the pull request.")
        if pull is not None:
            sha = publish_fix(self.gh, pull, base_sha=checkout.base_sha, files=files,
                              message=message)
            body = render_pr_body(view, note=f"Pushed {sha[:12]} to `{pull.head_ref}`. {note}")
            self.gh.comment(self.t.number, body)
            self.state.set(published=f"pushed {sha}")
            self._check("completed", "success", f"Pushed {sha[:12]}", body)
            return JobOutcome(state="done", note=f"pushed {sha}")
        title = f"Quorum: {view.title or f'issue #{self.t.number}'}"[:200]
        body = render_pr_body(view, note=f"Closes #{self.t.number} once reviewed. {note}")
        number, _url = publish_pull(self.gh, number=self.t.number, base_ref=checkout.base_ref,
                                    base_sha=checkout.base_sha, files=files, title=title,
                                    body=body, message=message)  # fmt: skip
        self.state.set(published=f"pull #{number}")
        self._check("completed", "success", f"Draft pull request #{number}",
                    f"Opened #{number} from `{branch_for(self.t.number)}`.\n\n{body}")
        return JobOutcome(state="done", note=f"pull #{number}")

    # --- endings --------------------------------------------------------------------------
    def _finish_refused(self, exc: SpendRefused) -> JobOutcome:
        text = f"Quorum did not start: {format_error(exc)}"
        self._say(text)
        self._check("completed", "neutral", "Refused: monthly cap", text)
        return JobOutcome(state="refused", note="monthly cap")

    def _finish_failed(self, exc: Exception) -> JobOutcome:
        if isinstance(exc, QuorumError):
            what = format_error(exc)
        else:  # a bug of ours: its type here, the rest in the log
            log.error("job %s failed: %s", self.job.id,
                      redact("".join(traceback.format_exception(exc))))
            what = (f"an internal error ({type(exc).__name__}) stopped the job; the app's "
                    "log has the details\n  hint: comment `/quorum solve` to try again")
        if isinstance(exc, PublishError):
            lead = "Quorum selected a patch but did not push it"
        else:
            lead = "Quorum could not finish"
        text = redact(f"{lead}:\n\n```text\n{what}\n```")
        self._say(text)
        self._check("completed", "failure", "Failed", text)
        return JobOutcome(state="failed", note=redact(what.splitlines()[0])[:500])

    def _settle(self) -> None:
        """The run's spend from its ledger journal (whole even after a crash)."""
        if not self.reserved:
            return
        usd, tokens = spent(SpendJournal(self.run_dir / "spend.jsonl").read())
        self.h.spend.settle(self.spend_key, usd=usd, tokens=tokens)

    def _say(self, text: str) -> None:
        try:
            self.gh.comment(self.t.number, text)
        except GitHubError as exc:
            log.warning("job %s: could not comment: %s", self.job.id, redact(str(exc)))

    def _check(self, status: str, conclusion: str | None = None, title: str = "",
               summary: str = "") -> None:
        if self.check_id is None:
            return
        try:
            self.gh.update_check_run(self.check_id, status=status, conclusion=conclusion,
                                     title=title, summary=redact(summary)[:60_000])
        except GitHubError as exc:
            log.warning("job %s: could not update the check run: %s", self.job.id,
                        redact(str(exc)))


class _CheckProgress(RolloutEvents):
    """Trajectories done and tests run, on the check run, at most every `every_s` (plus the
    last trajectory and the test matrix). Tests run: each finished trajectory's own
    reproduction test (on the original code, on its patch), then every cell of the matrix."""

    def __init__(self, gh: RepoClient, check_id: int | None, total: int, every_s: float) -> None:
        self.gh, self.check_id, self.total, self.every_s = gh, check_id, total, every_s
        self.done = 0
        self.tests = 0
        self.last = 0.0
        self.phase = ""

    def finished(self, traj: Any, candidate: Any) -> None:
        self.done += 1
        if candidate is not None:
            self.tests += sum(getattr(candidate, side, None) is not None
                              for side in ("test_on_original", "test_on_patched"))
        self._update(force=self.done >= self.total)

    def matrix(self, run_dir: Path) -> None:
        """The run's test matrix is written: its cells are tests run too."""
        try:
            cells = json.loads((run_dir / "matrix.json").read_text()).get("cells", {})
            self.tests += sum(len(row) for row in cells.values() if isinstance(row, dict))
        except (OSError, ValueError, AttributeError):
            return
        self._update(force=True)

    def say(self, message: str) -> None:
        self.phase = message
        self._update()

    def _update(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if self.check_id is None or (not force and now - self.last < self.every_s):
            return
        self.last = now
        summary = f"{self.done} of {self.total} trajectories done, {self.tests} tests run."
        if self.phase:
            summary += f"\n\nNow: {redact(self.phase)[:500]}"
        try:
            self.gh.update_check_run(self.check_id, status="in_progress",
                                     title=f"{self.done}/{self.total} trajectories, "
                                           f"{self.tests} tests run",
                                     summary=summary)  # fmt: skip
        except GitHubError as exc:
            log.warning("could not update the check run: %s", redact(str(exc)))


def spend_key(job: Job) -> str:
    """The job's row in the spend table."""
    return f"job-{job.id}"


def _from_fork(pull: PullInfo) -> str:
    where = pull.head_repo or "a repository that no longer exists"
    return (f"Quorum cannot run `/quorum fix` on this pull request: its branch lives in "
            f"{where}, a fork, and Quorum only pushes to branches of this "
            "repository. Push the branch here and comment `/quorum fix` again, or run "
            "`quorum solve` locally.")


def _no_access(user: str, permission: str) -> str:
    return (f"Thanks for the request, @{user}. Quorum runs only for people with write access "
            f"to this repository (yours: {permission}), because a run spends the "
            "installation's budget and opens pull requests. A maintainer can start it by "
            "labelling the issue `quorum` or commenting `/quorum solve`.")


def _least(*values: float | None) -> float | None:
    present = [v for v in values if v is not None]
    return min(present) if present else None

