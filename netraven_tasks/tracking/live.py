"""The live feed: every committed change of a job-log row, for the dashboard's event stream.

The recorder publishes the rows it just committed to a capped Redis Stream; the API's
``GET /job-logs/stream`` reads it with a blocking XREAD, so a thousand open dashboards cost
one Redis read each, never a database poll. Stream ids double as Server-Sent-Event ids, which
is what lets a browser resume after a drop (``Last-Event-ID``). Best effort by design: the
database row is the truth, and a lost live message is repaired by the dashboard's next load.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import Any

import redis

from netraven_tasks.models import JobLog

log = logging.getLogger(__name__)

LIVE_STREAM = "netraven:live"
LIVE_MAXLEN = 10_000  # enough for a dashboard to resume after a short drop


def job_row(job: Any) -> dict[str, Any]:
    """The row (a JobLog or any object with its columns as attributes) as JSON-ready values,
    every column (new columns join the feed by themselves)."""
    row: dict[str, Any] = {}
    for column in JobLog.__table__.columns:
        value = getattr(job, column.key)
        row[column.key] = value.isoformat() if isinstance(value, datetime) else value
    return row


class LiveFeed:
    """Publishes committed job-log rows and reads them back in order."""

    def __init__(self, client: redis.Redis, stream: str = LIVE_STREAM, maxlen: int = LIVE_MAXLEN):
        self._client = client
        self._stream = stream
        self._maxlen = maxlen

    def publish(self, rows: Iterable[dict[str, Any]]) -> None:
        """One XADD per job-log row in one round trip; a failure is logged, never raised to the recorder."""
        self._add("job", rows, "owner_id")

    def publish_batches(self, rows: Iterable[dict[str, Any]]) -> None:
        """The batch rows a commit changed (one per batch), as ``batch`` entries; best effort too."""
        self._add("batch", rows, "owner")

    def _add(self, kind: str, rows: Iterable[dict[str, Any]], owner_key: str) -> None:
        pipe = self._client.pipeline(transaction=False)
        count = 0
        for row in rows:
            pipe.xadd(
                self._stream,
                {kind: json.dumps(row, default=str), "owner_id": str(row.get(owner_key) or "")},
                maxlen=self._maxlen,
                approximate=True,
            )
            count += 1
        if not count:
            return
        try:
            pipe.execute()
        except redis.RedisError:
            log.warning("live feed: could not publish %d %s row(s)", count, kind, exc_info=True)

    def last_id(self) -> str:
        """The id of the newest entry ("0-0" when empty): where a new subscriber starts."""
        newest: Any = self._client.xrevrange(self._stream, count=1)
        return newest[0][0].decode() if newest else "0-0"

    def read(self, after: str, block_ms: int, count: int = 500) -> list[tuple[str, dict[str, Any]]]:
        """Job entries after ``after`` as (stream id, row), waiting up to ``block_ms`` for the first."""
        return [
            (entry_id, row)
            for entry_id, kind, row in self.read_events(after, block_ms, count)
            if kind == "job"
        ]

    def read_events(
        self, after: str, block_ms: int, count: int = 500
    ) -> list[tuple[str, str, dict[str, Any]]]:
        """Entries after ``after`` as (stream id, ``job`` or ``batch``, row), waiting up to
        ``block_ms`` for the first."""
        response: Any = self._client.xread({self._stream: after}, count=count, block=block_ms)
        return parse_entries(response[0][1]) if response else []


def parse_entries(raw: Iterable[tuple[bytes, dict[bytes, bytes]]]) -> list[tuple[str, str, dict[str, Any]]]:
    """Stream entries as (stream id, ``job`` or ``batch``, row), from XREAD or XRANGE (sync or
    asyncio client alike)."""
    entries = []
    for entry_id, fields in raw:
        for kind in ("job", "batch"):
            if fields and kind.encode() in fields:
                entries.append((entry_id.decode(), kind, json.loads(fields[kind.encode()])))
    return entries


def id_order(entry_id: str) -> tuple[int, int]:
    """A stream id as a sortable pair: ``"1700000000000-3"`` comes after ``"1700000000000-2"``."""
    milliseconds, _, sequence = entry_id.partition("-")
    return int(milliseconds), int(sequence or 0)
