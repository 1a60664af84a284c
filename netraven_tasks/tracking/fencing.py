"""Fencing the recorder's leader: a leader whose lock expired mid-batch cannot commit after a
newer leader took over, and a new leader does not write again what the old one committed.

Each time a recorder becomes leader of a stream it draws a token from a Redis counter (higher
than every earlier one). Every write transaction starts by raising the stream's fence row to
its token, which only succeeds if no higher token was written; the row stays locked until the
commit, so two leaders' transactions are serialised by the database itself, not by clocks. The
row also keeps the id of the last stream entry committed, so entries a new leader adopted from
the old one's pending list are skipped (and acknowledged) if they were written already.
"""

from __future__ import annotations

from datetime import UTC, datetime

import redis
from sqlalchemy import bindparam, text
from sqlalchemy.orm import Session

FENCE_COUNTER = "netraven:tracking:fence"


class LostLeadership(RuntimeError):
    """A newer leader has written to this stream: this recorder must not commit."""


def entry_key(entry_id: bytes | str) -> tuple[int, int]:
    """A stream id ("1700000000000-3") as a sortable pair."""
    raw = entry_id.decode() if isinstance(entry_id, bytes) else entry_id
    millis, _, sequence = raw.partition("-")
    return int(millis), int(sequence or 0)


_RAISE = text(
    "INSERT INTO tracking_fences (stream, token, last_entry, updated_at) "
    "VALUES (:stream, :token, NULL, :now) "
    "ON CONFLICT (stream) DO UPDATE SET token = excluded.token, updated_at = excluded.updated_at "
    "WHERE tracking_fences.token <= excluded.token "
    "RETURNING last_entry"
).bindparams(bindparam("now"))


class Fence:
    """The fence of one stream for one leadership term (``token``)."""

    def __init__(self, client: redis.Redis, stream: str):
        self._client = client
        self.stream = stream
        self.token: int | None = None

    def new_term(self) -> int:
        """Draw the token of a leadership just taken."""
        self.token = int(self._client.incr(f"{FENCE_COUNTER}:{self.stream}"))
        return self.token

    def enter(self, session: Session) -> tuple[int, int] | None:
        """First statement of a write: hold the fence; returns the last committed entry's key."""
        if self.token is None:
            raise LostLeadership(f"no leadership term on {self.stream}")
        row = session.execute(
            _RAISE, {"stream": self.stream, "token": self.token, "now": datetime.now(UTC)}
        ).first()
        if row is None:
            raise LostLeadership(f"a newer leader writes {self.stream} (this term: {self.token})")
        return entry_key(row[0]) if row[0] else None

    def advance(self, session: Session, last_entry: bytes) -> None:
        """Record the newest entry this transaction commits (inside it, before the commit)."""
        session.execute(
            text("UPDATE tracking_fences SET last_entry = :entry WHERE stream = :stream"),
            {"entry": last_entry.decode(), "stream": self.stream},
        )
