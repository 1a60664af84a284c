"""Rate-limit counters in a SQLite file under var/: shared by every API process of one machine.

The embedded default has no Redis, and counters in each process's memory let every gunicorn
worker grant the whole limit again (two workers: the first refusal at attempt 19 for a limit of
10). SQLite's write lock makes each increment atomic across processes; a ``limits`` storage, so the
fixed-window limiter works on it as on Redis. URI: ``netraven-sqlite:///abs/path/rate-limits.db``.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from limits.storage import Storage

from netraven_tasks.private_files import ensure_private_sqlite

SCHEME = "netraven-sqlite"
# A sign-in waits at most this long for another process's increment (each takes microseconds).
BUSY_TIMEOUT_SECONDS = 5.0


def storage_uri(path: Path) -> str:
    return f"{SCHEME}://{path.resolve()}"


class SqliteCounterStorage(Storage):
    """Fixed-window counters (key, count, expiry) in one SQLite table; a count never goes below 0."""

    STORAGE_SCHEME = [SCHEME]

    def __init__(self, uri: str, wrap_exceptions: bool = False, **options: Any) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions, **options)
        self.path = Path(urlsplit(uri).path)
        ensure_private_sqlite(f"sqlite:///{self.path}")  # 0600, in a 0700 folder, before SQLite opens it
        with self._transaction() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS counters "
                "(key TEXT PRIMARY KEY, count INTEGER NOT NULL, expires_at REAL NOT NULL)"
            )
            db.execute("CREATE INDEX IF NOT EXISTS counters_expiry ON counters (expires_at)")

    @property
    def base_exceptions(self) -> type[Exception]:
        return sqlite3.Error

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        # A connection per operation: nothing to share between gunicorn's threads or across a fork.
        with closing(sqlite3.connect(self.path, timeout=BUSY_TIMEOUT_SECONDS, isolation_level=None)) as db:
            db.execute("BEGIN IMMEDIATE")  # the write lock first: read-then-write cannot interleave
            try:
                yield db
            except BaseException:
                db.execute("ROLLBACK")
                raise
            db.execute("COMMIT")

    def incr(self, key: str, expiry: float, amount: int = 1) -> int:
        now = time.time()
        with self._transaction() as db:
            db.execute("DELETE FROM counters WHERE expires_at <= ?", (now,))
            row = db.execute(
                "INSERT INTO counters (key, count, expires_at) VALUES (?, max(?, 0), ?) "
                "ON CONFLICT (key) DO UPDATE SET count = max(count + ?, 0) RETURNING count",
                (key, amount, now + expiry, amount),
            ).fetchone()
        return int(row[0])

    def _row(self, key: str) -> tuple[int, float] | None:
        with self._transaction() as db:
            row = db.execute(
                "SELECT count, expires_at FROM counters WHERE key = ? AND expires_at > ?", (key, time.time())
            ).fetchone()
        return (int(row[0]), float(row[1])) if row else None

    def get(self, key: str) -> int:
        row = self._row(key)
        return row[0] if row else 0

    def get_expiry(self, key: str) -> float:
        row = self._row(key)
        return row[1] if row else time.time()

    def check(self) -> bool:
        try:
            self.get("check")
        except sqlite3.Error:
            return False
        return True

    def reset(self) -> int | None:
        with self._transaction() as db:
            return db.execute("DELETE FROM counters").rowcount

    def clear(self, key: str) -> None:
        with self._transaction() as db:
            db.execute("DELETE FROM counters WHERE key = ?", (key,))
