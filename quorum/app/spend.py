"""What each installation spends per calendar month (UTC), in dollars and tokens, against
the app's caps; persisted in the app's SQLite file (table `spend`, WAL).

A job reserves its budget before it starts (so two jobs of one installation cannot both
count on the same remainder) and settles it with what its run's ledger journal
(spend.jsonl) says was spent — after a success, a failure or a crash alike. One row per
job: settling twice (a resumed job) replaces, never adds. An embedded or self-hosted model
is free in dollars, so the token cap is the one that holds it."""

from __future__ import annotations

import sqlite3
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from agent.llm.ledger import Charge
from sandbox.errors import QuorumError

MIN_JOB_USD = 0.01  # less than this left: a job could not make one call
MIN_JOB_TOKENS = 2_000
PICO = 10**12
_SCHEMA = """
CREATE TABLE IF NOT EXISTS spend (
    job TEXT PRIMARY KEY,
    installation INTEGER NOT NULL,
    month TEXT NOT NULL,
    usd REAL NOT NULL,
    tokens INTEGER NOT NULL,
    settled INTEGER NOT NULL DEFAULT 0,
    updated_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS spend_by_month ON spend (installation, month);
"""


class Remaining(BaseModel):
    """What an installation may still spend this month; None: no cap."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    month: str
    usd: float | None
    tokens: int | None

    def words(self) -> str:
        usd = "no dollar cap" if self.usd is None else _usd(self.usd)
        tokens = "no token cap" if self.tokens is None else f"{self.tokens:,} tokens"
        return f"{usd} and {tokens} left for {self.month}"


class SpendRefused(QuorumError):
    """The installation's monthly cap leaves too little for this job."""

    def __init__(self, message: str, remaining: Remaining) -> None:
        super().__init__(message, hint="the cap renews on the 1st (UTC); an installation's "
                         "administrator can raise QUORUM_APP_MONTHLY_USD / _TOKENS")
        self.remaining = remaining


class JobBudget(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    usd: float | None
    tokens: int | None


class SpendBook:
    def __init__(self, db_path: Path, *, monthly_usd: float | None,
                 monthly_tokens: int | None, clock: Callable[[], float] = time.time) -> None:
        self.db_path = db_path
        self.monthly_usd = monthly_usd
        self.monthly_tokens = monthly_tokens
        self.clock = clock
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    def month(self) -> str:
        return datetime.fromtimestamp(self.clock(), UTC).strftime("%Y-%m")

    def remaining(self, installation: int, *, job: str = "") -> Remaining:
        """What is left this month; with `job`, as if that job's own row were not there
        (a resumed job's earlier reservation is its own to replace, not someone else's)."""
        with self._db() as db:
            return self._remaining(db, installation, self.month(), exclude=job)

    def check(self, installation: int, usd: float | None = None,
              tokens: int | None = None, *, job: str = "") -> Remaining:
        """What is left, or SpendRefused when `usd`/`tokens` (or the minimum a job needs)
        would cross the cap."""
        left = self.remaining(installation, job=job)
        _refuse_if_short(left, usd, tokens)
        return left

    def reserve(self, installation: int, job: str, *, usd: float | None,
                tokens: int | None, must_fit: bool = True) -> JobBudget:
        """The job's budget: what it asks (None: as much as is left), bounded by what is left
        this month, held for it until `settle`. Refused when that is too little, or (with
        `must_fit`: a person asked for it explicitly) when the ask is more than is left. A
        job reserving again (resumed) replaces its own reservation."""
        month = self.month()
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")  # no other job reserves between the read and write
            # A resumed job replaces its own row: its run's ledger restores what the earlier
            # attempt spent and holds the whole job to the new budget; settle counts it all.
            left = self._remaining(db, installation, month, exclude=job)
            try:
                _refuse_if_short(left, usd if must_fit else None, tokens if must_fit else None)
            except SpendRefused:
                db.execute("ROLLBACK")
                raise
            budget = JobBudget(usd=_least(usd, left.usd), tokens=_least_int(tokens, left.tokens))
            db.execute(
                "INSERT OR REPLACE INTO spend VALUES (?, ?, ?, ?, ?, 0, ?)",
                (job, installation, month, budget.usd or 0.0, budget.tokens or 0, self.clock()),
            )
            db.execute("COMMIT")
        return budget

    def settle(self, job: str, *, usd: float, tokens: int,
               installation: int | None = None) -> None:
        """Replace the job's reservation by what it spent (idempotent)."""
        with self._db() as db:
            db.execute("BEGIN IMMEDIATE")
            found = db.execute(
                "UPDATE spend SET usd = ?, tokens = ?, settled = 1, updated_at = ? WHERE job = ?",
                (usd, tokens, self.clock(), job),
            ).rowcount
            if not found:
                if installation is None:
                    db.execute("ROLLBACK")
                    raise QuorumError(f"job {job} reserved no spend to settle")
                db.execute("INSERT INTO spend VALUES (?, ?, ?, ?, ?, 1, ?)",
                           (job, installation, self.month(), usd, tokens, self.clock()))
            db.execute("COMMIT")

    def add(self, installation: int, usd: float, tokens: int) -> None:
        """Spend not tied to a reserved job."""
        self.settle(f"extra-{uuid.uuid4().hex}", usd=usd, tokens=tokens,
                    installation=installation)

    def release(self, job: str) -> None:
        """Drop an unsettled reservation (the job never started its run)."""
        with self._db() as db:
            db.execute("DELETE FROM spend WHERE job = ? AND settled = 0", (job,))

    def _remaining(self, db: sqlite3.Connection, installation: int, month: str,
                   exclude: str) -> Remaining:
        usd, tokens = db.execute(
            "SELECT COALESCE(SUM(usd), 0), COALESCE(SUM(tokens), 0) FROM spend "
            "WHERE installation = ? AND month = ? AND job != ?",
            (installation, month, exclude),
        ).fetchone()
        return Remaining(
            month=month,
            usd=None if self.monthly_usd is None else max(0.0, self.monthly_usd - usd),
            tokens=None if self.monthly_tokens is None else max(0, self.monthly_tokens - tokens),
        )

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA busy_timeout=30000")
            yield db
        finally:
            db.close()


def spent(charges: list[Charge]) -> tuple[float, int]:
    """(dollars, tokens) of a run's ledger journal."""
    pico = sum(c.pico_usd for c in charges)
    tokens = sum(c.prompt_tokens + c.completion_tokens for c in charges)
    return pico / PICO, tokens


def _refuse_if_short(left: Remaining, usd: float | None, tokens: int | None) -> None:
    short = []
    if left.usd is not None and (left.usd < MIN_JOB_USD or (usd is not None and usd > left.usd)):
        short.append(f"${usd:,.2f} asked" if usd is not None and usd > left.usd else "dollars")
    if left.tokens is not None and (left.tokens < MIN_JOB_TOKENS
                                    or (tokens is not None and tokens > left.tokens)):
        short.append("tokens")
    if short:
        raise SpendRefused(f"this installation's monthly cap leaves too little for this job "
                           f"({', '.join(short)}): {left.words()}", left)


def _usd(value: float) -> str:
    """$4.9980, not $5.00, when a run spent a fraction of a cent."""
    return f"${value:,.2f}" if round(value, 2) == value else f"${value:,.4f}"


def _least(a: float | None, b: float | None) -> float | None:
    present = [v for v in (a, b) if v is not None]
    return min(present) if present else None


def _least_int(a: int | None, b: int | None) -> int | None:
    value = _least(a, b)
    return None if value is None else int(value)
