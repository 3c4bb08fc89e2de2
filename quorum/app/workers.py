"""The worker pool: N asyncio tasks that take jobs from the store, respecting the
per-installation limit, and hand each to the job handler.

A worker wakes when the webhook records a job (`wake()`, an asyncio.Event) and polls every
`poll_interval_s` as a fallback (a job freed by another installation's limit, a clock). A
handler's exception makes the job failed with the project's error text as its note and never
ends the worker; a database error is logged and retried after a pause.

On start, jobs a dead process left running are queued again with `resumed=True` (once); those
interrupted a second time are failed, and the handler is called once more with that failed
job (`job.state == "failed"`, `resumed=True`) only so it can report it - it must not run it.
On stop, workers take no new job and running ones get `grace_s` to finish; a job cut off
stays running on disk and is resumed by the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from typing import Protocol

from agent.redact import redact
from quorum.app.store import Job, JobOutcome, JobStore, StoreError
from quorum.errors import format_error

log = logging.getLogger("quorum.app.workers")
DB_RETRY_S = 1.0


class JobHandler(Protocol):
    async def __call__(self, job: Job, *, resumed: bool) -> JobOutcome: ...


class WorkerPool:
    def __init__(self, store: JobStore, handler: JobHandler, *, workers: int,
                 per_installation: int, poll_interval_s: float) -> None:  # fmt: skip
        self.store = store
        self.handler = handler
        self.workers = workers
        self.per_installation = per_installation
        self.poll_interval_s = poll_interval_s
        self._wake = asyncio.Event()
        self._stopping = False
        self._tasks: list[asyncio.Task[None]] = []

    def wake(self) -> None:
        """A job was recorded: idle workers look at the queue now."""
        self._wake.set()

    async def start(self) -> None:
        failed = await asyncio.to_thread(self.store.recover_interrupted)
        for job in failed:
            log.warning("job %s was interrupted twice; reported as failed", job.id)
            self._tasks.append(asyncio.create_task(self._report(job), name=f"report-{job.id}"))
        for index in range(self.workers):
            self._tasks.append(asyncio.create_task(self._work(), name=f"worker-{index}"))

    async def stop(self, grace_s: float = 10.0) -> None:
        self._stopping = True
        self._wake.set()
        if not self._tasks:
            return
        _, pending = await asyncio.wait(self._tasks, timeout=grace_s)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
        self._tasks.clear()

    async def _work(self) -> None:
        while not self._stopping:
            self._wake.clear()  # before the claim: a job recorded after it sets it again
            try:
                job = await asyncio.to_thread(self.store.claim_next, self.per_installation)
            except (sqlite3.Error, StoreError) as exc:
                log.error("cannot read the job queue: %s", exc)
                await asyncio.sleep(DB_RETRY_S)
                continue
            if job is None:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._wake.wait(), self.poll_interval_s)
                continue
            await self._run(job)

    async def _run(self, job: Job) -> None:
        log.info("job %s started (%s %s#%s%s)", job.id, job.trigger.kind, job.trigger.repo,
                 job.trigger.number, ", resumed" if job.resumed else "")  # fmt: skip
        outcome = await self._call(job, resumed=job.resumed)
        while True:  # the outcome must reach the disk; a job left running would run again
            try:
                await asyncio.to_thread(self.store.finish, job.id, outcome)
                break
            except (sqlite3.Error, StoreError) as exc:
                log.error("cannot record job %s's outcome: %s", job.id, exc)
                await asyncio.sleep(DB_RETRY_S)
        log.info("job %s %s%s", job.id, outcome.state,
                 f": {outcome.note.splitlines()[0]}" if outcome.note else "")  # fmt: skip
        self._wake.set()  # the installation's slot is free: a waiting job may go now

    async def _call(self, job: Job, *, resumed: bool) -> JobOutcome:
        try:
            outcome = await self.handler(job, resumed=resumed)
        except asyncio.CancelledError:
            raise
        except Exception as exc:  # the handler's failure is the job's, never the worker's
            return JobOutcome(state="failed", note=redact(format_error(exc)))
        if not isinstance(outcome, JobOutcome):
            return JobOutcome(state="failed", note=f"the handler returned {type(outcome)}")
        return outcome

    async def _report(self, job: Job) -> None:
        """Let the handler tell the issue that `job` failed; its state stays failed."""
        outcome = await self._call(job, resumed=True)
        log.info("job %s: failure reported (%s)", job.id, outcome.state)
