"""Which issues already got a refusal comment (table `refusals` in the app's SQLite file),
so a person without write access who comments twice is answered once, even across restarts
and concurrent workers."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

_SCHEMA = """
CREATE TABLE IF NOT EXISTS refusals (
    repo TEXT NOT NULL,
    number INTEGER NOT NULL,
    reason TEXT NOT NULL,
    at REAL NOT NULL,
    PRIMARY KEY (repo, number, reason)
);
"""


class RefusalBook:
    def __init__(self, db_path: Path) -> None:
        self.db_path = db_path
        db_path.parent.mkdir(parents=True, exist_ok=True)
        with self._db() as db:
            db.executescript(_SCHEMA)

    def first(self, repo: str, number: int, reason: str) -> bool:
        """True once per (repo, issue, reason): the caller comments then, and only then."""
        with self._db() as db:
            cur = db.execute("INSERT OR IGNORE INTO refusals VALUES (?, ?, ?, ?)",
                             (repo.lower(), number, reason, time.time()))
            return cur.rowcount == 1

    def forget(self, repo: str, number: int, reason: str) -> None:
        """The comment could not be posted: let the next trigger try again."""
        with self._db() as db:
            db.execute("DELETE FROM refusals WHERE repo = ? AND number = ? AND reason = ?",
                       (repo.lower(), number, reason))

    @contextmanager
    def _db(self) -> Iterator[sqlite3.Connection]:
        db = sqlite3.connect(self.db_path, timeout=30, isolation_level=None)
        try:
            db.execute("PRAGMA journal_mode=WAL")
            yield db
        finally:
            db.close()
