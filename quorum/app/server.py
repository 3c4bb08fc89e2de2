"""The App's HTTP side: `POST /webhooks`, `GET /healthz`, `GET /readyz`.

The webhook reads the raw body, checks its signature before anything parses it, turns it into
a trigger, records the delivery and its job in one transaction and answers 202 at once; the
worker pool (started in the lifespan) does the work. Every path of the webhook returns a
chosen status: 401 (signature), 400 (a signed body that is not a JSON object, no delivery
id), 413 (too large), 202 (a job, a duplicate or an ignored event) and 503 only when the
database itself fails. Nothing a payload holds reaches code that can raise: the parser's
errors are caught by type and `trigger_from_event` never raises. A delivery that triggers
nothing is answered without a write (only deliveries with a job need deduplicating).
"""

from __future__ import annotations

import asyncio
import json
import logging
import sqlite3
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.requests import ClientDisconnect

from quorum.app.settings import AppSettings
from quorum.app.signature import verify
from quorum.app.store import JobStore, StoreError
from quorum.app.triggers import trigger_from_event
from quorum.app.workers import JobHandler, WorkerPool
from sandbox.docker_client import connect
from sandbox.errors import EngineUnavailable

log = logging.getLogger("quorum.app.server")
MAX_BODY = 25 * 1024 * 1024  # GitHub caps a webhook payload at 25 MB
MAX_HEADER = 200  # delivery ids are UUIDs; event names are short
ENGINE_PING_S = 3.0


def create_app(settings: AppSettings, handler: JobHandler) -> FastAPI:
    store = JobStore(settings.db_path)
    holder: dict[str, WorkerPool] = {}

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        pool = WorkerPool(store, handler, workers=settings.workers,
                          per_installation=settings.per_installation_concurrency,
                          poll_interval_s=settings.poll_interval_s)  # fmt: skip
        holder["pool"] = pool
        await pool.start()
        log.info("serving; %d workers, %d per installation, queue %s", settings.workers,
                 settings.per_installation_concurrency, settings.db_path)  # fmt: skip
        try:
            yield
        finally:
            await pool.stop()
            store.close()

    app = FastAPI(title="Quorum GitHub App", lifespan=lifespan, docs_url=None, redoc_url=None,
                  openapi_url=None)  # fmt: skip
    app.state.store = store
    secret = settings.webhook_secret.get_secret_value()

    @app.post("/webhooks")
    async def webhooks(request: Request) -> JSONResponse:
        event = _header(request, "x-github-event")
        delivery = _header(request, "x-github-delivery")
        body = await _bounded_body(request)
        if body is None:
            return _answer(413, error="payload larger than GitHub sends")
        if not verify(secret, body, request.headers.get("x-hub-signature-256")):
            why = "unsigned" if "x-hub-signature-256" not in request.headers else "forged"
            log.warning("rejected %s delivery %r event %r", why, delivery, event)
            return _answer(401, error="signature missing or wrong")
        if not delivery or not event:
            return _answer(400, error="X-GitHub-Delivery and X-GitHub-Event are required")
        payload = _json(body)
        if payload is None:
            return _answer(400, error="the body is not a JSON object")
        trigger = trigger_from_event(event, payload)
        if trigger is None:
            return _answer(202, ignored=f"{event} event: not a Quorum trigger")
        try:
            recorded = await asyncio.to_thread(store.record_delivery, delivery, event, trigger)
        except (sqlite3.Error, StoreError) as exc:
            log.error("cannot record delivery %r: %s", delivery, exc)
            return _answer(503, error="the job queue cannot be written; GitHub can redeliver")
        if recorded.duplicate or recorded.job is None:
            job_id = recorded.job.id if recorded.job else None
            return _answer(202, ignored="duplicate delivery", job=job_id)
        if "pool" in holder:
            holder["pool"].wake()
        log.info("delivery %r (%s) -> job %s", delivery, event, recorded.job.id)
        return _answer(202, job=recorded.job.id)

    @app.get("/healthz")
    async def healthz() -> JSONResponse:
        return _answer(200, ok=True)

    @app.get("/readyz")
    async def readyz() -> JSONResponse:
        problem = await asyncio.to_thread(store.writable)
        if problem is None:
            problem = await _engine_problem(settings.docker_host)
        if problem:
            return _answer(503, ready=False, reason=problem)
        return _answer(200, ready=True)

    return app


async def _engine_problem(docker_host: str | None) -> str | None:
    def ping() -> None:
        connect(docker_host, timeout=ENGINE_PING_S).close()

    try:
        await asyncio.wait_for(asyncio.to_thread(ping), ENGINE_PING_S + 1)
    except EngineUnavailable as exc:
        return str(exc).splitlines()[0]
    except TimeoutError:
        return f"Docker engine at {docker_host or 'the local socket'} did not answer in time"
    return None


async def _bounded_body(request: Request) -> bytes | None:
    """The raw body, or None past MAX_BODY: read in chunks, so an unsigned sender cannot
    make the server hold more than that (the signature can only be checked on all of it)."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > MAX_BODY:
        return None
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                return None
            chunks.append(chunk)
    except ClientDisconnect:  # nobody to answer; an empty body fails the signature check
        return b""
    return b"".join(chunks)


def _header(request: Request, name: str) -> str:
    return request.headers.get(name, "")[:MAX_HEADER]


def _json(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None (not UTF-8, not JSON, nested past the parser's
    recursion limit, or not an object)."""
    try:
        payload = json.loads(body)
    except (ValueError, RecursionError):  # UnicodeDecodeError and JSONDecodeError included
        return None
    return payload if isinstance(payload, dict) else None


def _answer(status: int, **content: Any) -> JSONResponse:
    return JSONResponse({k: v for k, v in content.items() if v is not None}, status_code=status)


def serve(app: FastAPI, host: str, port: int) -> None:
    """Run `app` under uvicorn until SIGINT/SIGTERM (the lifespan stops the workers)."""
    import uvicorn

    uvicorn.run(app, host=host, port=port, log_config=None, access_log=False,
                timeout_graceful_shutdown=30)  # fmt: skip
