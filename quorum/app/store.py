"""The App's durable queue: every delivery and its job in SQLite.

- WAL mode with `synchronous=FULL`: a commit is fsynced before it returns, so a 202 means the
  job is on disk and survives a power loss, not only a crash of this process (NORMAL in WAL
  mode may lose the last commits on power loss). One fsync per webhook is well within budget.
- One connection shared behind a lock (the webhook thread pool and the workers' event loop
  both use it); each public method is one transaction, `BEGIN IMMEDIATE` where it writes, so
  a duplicate delivery can never make a second job and two workers never claim one job.
- A job's life: queued -> running (claim_next; attempts + 1) -> done | failed | refused |
  ignored (finish). A job found running that this store did not claim was left by a dead
  process: `recover_interrupted` queues it again once, marked `resumed`; found running a
  second time it becomes failed (interrupted twice) and is never run again.
- The schema is versioned with `PRAGMA user_version`; `_MIGRATIONS[i]` takes version i to i+1.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from quorum.app.triggers import Trigger
from sandbox.errors import QuorumError

JobState = Literal["queued", "running", "done", "failed", "refused", "ignored"]
FINAL_STATES = ("done", "failed", "refused", "ignored")
INTERRUPTED_TWICE = "interrupted twice by a restart of the App; not run again"

_MIGRATIONS = [
    """
    CREATE TABLE deliveries (
        delivery_id TEXT PRIMARY KEY,
        event TEXT NOT NULL,
        received_at REAL NOT NULL
    );
    CREATE TABLE jobs (
        id INTEGER PRIMARY KEY AUTOINCREMENT,
        delivery_id TEXT NOT NULL UNIQUE REFERENCES deliveries(delivery_id),
        installation_id INTEGER NOT NULL,
        trigger TEXT NOT NULL,
        state TEXT NOT NULL,
        attempts INTEGER NOT NULL DEFAULT 0,
        resumed INTEGER NOT NULL DEFAULT 0,
        owner TEXT NOT NULL DEFAULT '',
        created_at REAL NOT NULL,
        updated_at REAL NOT NULL,
        note TEXT NOT NULL DEFAULT ''
    );
    CREATE INDEX jobs_by_state ON jobs(state, installation_id);
    """,
]
SCHEMA_VERSION = len(_MIGRATIONS)


class StoreError(QuorumError):
    """The job database cannot be opened or written."""


class Job(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: int
    delivery_id: str
    trigger: Trigger
    state: JobState
    attempts: int
    created_at: float
    updated_at: float
    note: str = ""
    resumed: bool = False  # queued again after a restart interrupted it


class JobOutcome(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    state: Literal["done", "failed", "refused", "ignored"]
    note: str = ""


class Recorded(BaseModel):
    """What `record_delivery` did: a new delivery (with a job or not) or a duplicate (and
    the job the first copy made, if any)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    duplicate: bool
    job: Job | None = None


class JobStore:
    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.owner = uuid.uuid4().hex  # this process's claims; others' are a dead process's
        self._lock = threading.Lock()
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: transactions are explicit (BEGIN IMMEDIATE ... COMMIT).
            self._db = sqlite3.connect(self.path, isolation_level=None,
                                       check_same_thread=False, timeout=30)  # fmt: skip
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=FULL")
            self._db.execute("PRAGMA foreign_keys=ON")
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise StoreError(
                f"cannot open the App's job database {self.path}: {exc}",
                hint="set QUORUM_APP_DB to a writable path",
            ) from exc

    def close(self) -> None:
        with self._lock:
            self._db.close()

    # --- writes ---------------------------------------------------------------------------
    def record_delivery(self, delivery_id: str, event: str, trigger: Trigger | None) -> Recorded:
        """Record a delivery and, if it triggers one, its job, in one transaction."""
        now = time.time()
        with self._transaction() as db:
            inserted = db.execute(
                "INSERT OR IGNORE INTO deliveries VALUES (?, ?, ?)", (delivery_id, event, now)
            ).rowcount
            if not inserted:
                row = db.execute("SELECT * FROM jobs WHERE delivery_id = ?",
                                 (delivery_id,)).fetchone()  # fmt: skip
                return Recorded(duplicate=True, job=_job(row) if row else None)
            if trigger is None:
                return Recorded(duplicate=False)
            cursor = db.execute(
                "INSERT INTO jobs (delivery_id, installation_id, trigger, state, created_at,"
                " updated_at) VALUES (?, ?, ?, 'queued', ?, ?)",
                (delivery_id, trigger.installation_id, trigger.model_dump_json(), now, now),
            )
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (cursor.lastrowid,)).fetchone()
            return Recorded(duplicate=False, job=_job(row))

    def record(self, delivery_id: str, event: str, trigger: Trigger | None) -> Job | None:
        """The new job, or None: no trigger, or a duplicate delivery (never a second job)."""
        recorded = self.record_delivery(delivery_id, event, trigger)
        return None if recorded.duplicate else recorded.job

    def claim_next(self, per_installation: int) -> Job | None:
        """The oldest queued job (resumed ones first) whose installation has fewer than
        `per_installation` jobs running, now running and owned by this store; or None."""
        with self._transaction() as db:
            row = db.execute(
                "SELECT id FROM jobs AS j WHERE state = 'queued' AND (SELECT count(*) FROM jobs"
                " AS r WHERE r.installation_id = j.installation_id AND r.state = 'running') < ?"
                " ORDER BY resumed DESC, id LIMIT 1",
                (per_installation,),
            ).fetchone()
            if row is None:
                return None
            db.execute(
                "UPDATE jobs SET state = 'running', attempts = attempts + 1, owner = ?,"
                " updated_at = ? WHERE id = ?",
                (self.owner, time.time(), row["id"]),
            )
            return _job(db.execute("SELECT * FROM jobs WHERE id = ?", (row["id"],)).fetchone())

    def finish(self, job_id: int, outcome: JobOutcome) -> None:
        """Record a running job's outcome (a job already final is left as it is)."""
        with self._transaction() as db:
            db.execute(
                "UPDATE jobs SET state = ?, note = ?, updated_at = ? WHERE id = ?"
                " AND state = 'running'",
                (outcome.state, outcome.note, time.time(), job_id),
            )

    def recover_interrupted(self) -> list[Job]:
        """Jobs a dead process left running: queued again (resumed) if this was their first
        run; failed if they were already resumed once. Returns the ones now failed, so the
        caller can let the handler report them."""
        now = time.time()
        with self._transaction() as db:
            rows = db.execute("SELECT * FROM jobs WHERE state = 'running' AND owner != ?",
                              (self.owner,)).fetchall()  # fmt: skip
            failed = []
            for row in rows:
                if row["attempts"] <= 1:
                    db.execute("UPDATE jobs SET state = 'queued', resumed = 1, updated_at = ?"
                               " WHERE id = ?", (now, row["id"]))  # fmt: skip
                else:
                    db.execute("UPDATE jobs SET state = 'failed', note = ?, updated_at = ?"
                               " WHERE id = ?", (INTERRUPTED_TWICE, now, row["id"]))  # fmt: skip
                    failed.append(row["id"])
            return [_job(db.execute("SELECT * FROM jobs WHERE id = ?", (i,)).fetchone())
                    for i in failed]  # fmt: skip

    # --- reads ----------------------------------------------------------------------------
    def jobs_left_running(self) -> list[Job]:
        """Jobs running but not claimed by this store: left by a process that died."""
        with self._read() as db:
            rows = db.execute("SELECT * FROM jobs WHERE state = 'running' AND owner != ?"
                              " ORDER BY id", (self.owner,)).fetchall()  # fmt: skip
        return [_job(row) for row in rows]

    def job(self, job_id: int) -> Job | None:
        with self._read() as db:
            row = db.execute("SELECT * FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return _job(row) if row else None

    def jobs(self, state: JobState | None = None) -> list[Job]:
        """Every job (or those in `state`), oldest first."""
        with self._read() as db:
            if state is None:
                rows = db.execute("SELECT * FROM jobs ORDER BY id").fetchall()
            else:
                rows = db.execute("SELECT * FROM jobs WHERE state = ? ORDER BY id",
                                  (state,)).fetchall()  # fmt: skip
        return [_job(row) for row in rows]

    def deliveries(self) -> list[tuple[str, str]]:
        """(delivery_id, event) of every delivery recorded, oldest first."""
        with self._read() as db:
            rows = db.execute("SELECT delivery_id, event FROM deliveries"
                              " ORDER BY received_at, rowid").fetchall()  # fmt: skip
        return [(row["delivery_id"], row["event"]) for row in rows]

    def has_queued(self) -> bool:
        with self._read() as db:
            return db.execute("SELECT 1 FROM jobs WHERE state = 'queued' LIMIT 1"
                              ).fetchone() is not None  # fmt: skip

    def durability(self) -> dict[str, int | str]:
        """The pragmas a 202 relies on: journal_mode, synchronous (2 = FULL), user_version."""
        with self._read() as db:
            return {name: db.execute(f"PRAGMA {name}").fetchone()[0]
                    for name in ("journal_mode", "synchronous", "user_version")}  # fmt: skip

    def writable(self) -> str | None:
        """None when a write transaction commits; else the reason (for /readyz)."""
        with self._lock:
            try:
                self._db.execute("BEGIN IMMEDIATE")
                try:  # a real write, rolled back: a read-only file or directory fails here
                    self._db.execute("INSERT INTO deliveries VALUES ('readyz', '', 0)"
                                     " ON CONFLICT DO NOTHING")  # fmt: skip
                finally:
                    self._db.execute("ROLLBACK")
            except sqlite3.Error as exc:
                return f"database {self.path}: {exc}"
        return None

    # --- plumbing -------------------------------------------------------------------------
    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            yield self._db

    def _migrate(self) -> None:
        version = self._db.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} has schema version {version}; this Quorum knows up to "
                f"{SCHEMA_VERSION}", hint="upgrade Quorum or point QUORUM_APP_DB elsewhere")
        for target in range(version, SCHEMA_VERSION):
            with self._transaction() as db:
                for statement in _statements(_MIGRATIONS[target]):
                    db.execute(statement)
                db.execute(f"PRAGMA user_version = {target + 1}")


def _statements(script: str) -> list[str]:
    return [part.strip() for part in script.split(";") if part.strip()]


def _job(row: sqlite3.Row) -> Job:
    return Job(
        id=row["id"],
        delivery_id=row["delivery_id"],
        trigger=Trigger.model_validate(json.loads(row["trigger"])),
        state=row["state"],
        attempts=row["attempts"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        note=row["note"],
        resumed=bool(row["resumed"]),
    )
