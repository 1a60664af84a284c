"""The Redis Stream write path: handlers append events, one leader consumer writes them in batches.

Why: a synchronous INSERT/UPDATE per signal costs a round trip on every task and is lost
when the database is down (Celery swallows handler errors). Appending to a stream on the
broker's own Redis costs one XADD; the consumer writes batches, acknowledges only after
commit, and simply waits out a database outage. See docs/tracking.md.

One consumer at a time (a Redis lock elects it) keeps events of a job in stream order; every
worker hosts a standby, and a new leader first takes over what the old one left unacknowledged.
"""

from __future__ import annotations

import contextlib
import json
import logging
import threading
import time
import zlib
from collections.abc import Sequence
from typing import Any

import redis
from redis.exceptions import LockError
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks import backoff
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.dead_letters import DeadLetters, RedisDeadLetters
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.fencing import Fence, LostLeadership
from netraven_tasks.tracking.isolation import BatchPlanner, IsolatingWriter, PendingEvent, describe_error
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.published import PublishedMessages
from netraven_tasks.tracking.recorder import Recorder, TerminalHook, after_commit
from netraven_tasks.tracking.storable import storable_event

log = logging.getLogger(__name__)

STREAM = "netraven:tracking"
GROUP = "recorder"
LEADER_LOCK = "netraven:tracking:leader"
RECONNECT_BASE = 0.5  # seconds before retrying a failed batch; doubles up to RECONNECT_MAX
RECONNECT_MAX = 5.0


def partition_stream(partition: int) -> str:
    """The stream of one partition; partition 0 keeps the unpartitioned name."""
    return STREAM if partition == 0 else f"{STREAM}:{partition}"


def partition_streams(partitions: int) -> list[str]:
    return [partition_stream(p) for p in range(partitions)]


def tracking_streams(settings: Settings) -> list[str]:
    """Every partition's stream, as configured (index = partition): the one list the reaper, its
    backlog check, the broker inventory and ``/metrics`` read."""
    return partition_streams(settings.tracking_partitions)


def partition_of(task_id: str, partitions: int) -> int:
    """A stable hash (crc32, not Python's salted ``hash``): every process picks the same one."""
    return zlib.crc32(task_id.encode("utf-8", "surrogatepass")) % partitions if partitions > 1 else 0


def backlog(client: redis.Redis, stream: str = STREAM, now: float | None = None) -> tuple[int, float]:
    """(entries not yet written, age in seconds of the oldest): the recorder's lag."""
    count = int(client.xlen(stream))
    if count == 0:
        return 0, 0.0
    oldest: Any = client.xrange(stream, count=1)
    if not oldest:
        return 0, 0.0
    millis = int(oldest[0][0].split(b"-")[0])
    return count, max(0.0, (now if now is not None else time.time()) - millis / 1000)


def total_backlog(client: redis.Redis, streams: Sequence[str]) -> tuple[int, float]:
    """The backlog of every partition: entries summed, the oldest age."""
    lags = [backlog(client, stream) for stream in streams]
    return sum(n for n, _ in lags), max((age for _, age in lags), default=0.0)


class StreamRecorder:
    """Appends each event to the stream of its partition (one XADD): a job's events stay in one
    stream, so in order, while N partitions are written by N leaders in parallel."""

    def __init__(self, client: redis.Redis, stream: str = STREAM, partitions: int = 1):
        self._client = client
        self._streams = [stream] if partitions <= 1 else partition_streams(partitions)

    def record(self, event: TrackingEvent) -> None:
        stream = self._streams[partition_of(event.task_id, len(self._streams))]
        # Made storable here already: a 10 MB result must not travel through Redis either.
        self._client.xadd(stream, {"event": json.dumps(storable_event(event).to_dict(), default=str)})


class SplitRecorder:
    """Queued events synchronously (the launcher answers with the row id); the rest via the stream.

    The queued row is committed before the message is published, so it always precedes the
    worker's events for that job.
    """

    def __init__(self, sync: Recorder, stream: Recorder):
        self._sync = sync
        self._stream = stream

    def record(self, event: TrackingEvent) -> None:
        target = self._sync if event.kind in {EventKind.QUEUED, EventKind.REAPED} else self._stream
        target.record(event)


class RecorderConsumer:
    """Reads the stream in batches and writes them; acknowledges only what was committed."""

    def __init__(
        self,
        client: redis.Redis,
        sessions: sessionmaker[Session],
        consumer_name: str,
        on_terminal: Sequence[TerminalHook] = (),
        *,
        stream: str = STREAM,
        group: str = GROUP,
        batch_size: int = 500,
        block_ms: int = 500,
        leader_ttl_seconds: float = 15.0,
        live: LiveFeed | None = None,
        dead_letters: DeadLetters | None = None,
        adopt_idle_seconds: float | None = None,
        planner: BatchPlanner | None = None,
    ):
        self.dead_letters = dead_letters if dead_letters is not None else RedisDeadLetters(client)
        self._fence = Fence(client, stream)
        self._writer = IsolatingWriter(
            sessions, self.dead_letters, source=stream, fence=self._fence, planner=planner
        )
        # A batch cannot take longer than the lock lives without the leader noticing at its next
        # renewal; twice that is how long an entry must be idle before another leader adopts it.
        idle = adopt_idle_seconds if adopt_idle_seconds is not None else 2 * leader_ttl_seconds
        self._adopt_idle_ms = int(idle * 1000)
        self._last_adoption = 0.0
        self._client = client
        self._name = consumer_name
        self._on_terminal = on_terminal
        self._live = live
        self._published = PublishedMessages(client)
        self._stream = stream
        self._group = group
        self._batch_size = batch_size
        self._block_ms = block_ms
        self._leader = client.lock(f"{LEADER_LOCK}:{stream}", timeout=leader_ttl_seconds, thread_local=False)
        self._leading = False
        self._group_ready = False

    @property
    def sessions(self) -> sessionmaker[Session]:
        return self._writer.sessions

    @sessions.setter
    def sessions(self, sessions: sessionmaker[Session]) -> None:
        self._writer.sessions = sessions

    def ensure_group(self) -> None:
        if self._group_ready:
            return
        try:
            self._client.xgroup_create(self._stream, self._group, id="0", mkstream=True)
        except redis.ResponseError as error:
            if "BUSYGROUP" not in str(error):
                raise
        self._group_ready = True

    def lead(self) -> bool:
        """Take or keep the leadership; a new leader draws a fencing token, then adopts entries."""
        if self._leading:
            try:
                self._leader.reacquire()
                return True
            except LockError:
                log.warning("recorder %s lost the leadership", self._name)
                self._leading = False
        if self._leader.acquire(blocking=False):
            self._leading = True
            self.ensure_group()
            token = self._fence.new_term()
            self._adopt_pending()
            log.info("recorder %s is the leader of %s (term %d)", self._name, self._stream, token)
        return self._leading

    def _lost(self) -> None:
        log.warning("recorder %s: a newer leader writes %s; standing by", self._name, self._stream)
        self._leading = False
        self._fence.token = None

    def release(self) -> None:
        if self._leading:
            with contextlib.suppress(LockError):
                self._leader.release()
            self._leading = False

    def _adopt_pending(self) -> None:
        """Take over entries another consumer read but left unacknowledged for longer than a
        batch can take: younger ones may still be in a live (if deposed) leader's transaction."""
        self._last_adoption = time.monotonic()
        start: str | bytes = "0-0"
        while True:
            response = self._client.xautoclaim(
                self._stream, self._group, self._name, min_idle_time=self._adopt_idle_ms,
                start_id=start, count=1000,
            )  # fmt: skip
            start = response[0]
            if start in (b"0-0", "0-0"):
                return

    def drain_once(self, block_ms: int | None = None) -> int:
        """Write one batch: this consumer's unacknowledged entries first, then new ones."""
        self.ensure_group()
        if time.monotonic() - self._last_adoption > self._adopt_idle_ms / 2000:
            self._adopt_pending()  # what a deposed leader left, once it is idle long enough
        entries = self._read("0", None)
        redelivered = bool(entries)
        if not entries:
            entries = self._read(">", self._block_ms if block_ms is None else block_ms)
        if entries:
            self.write(entries, redelivered=redelivered)
        return len(entries)

    def _read(self, last_id: str, block_ms: int | None) -> list[tuple[bytes, dict[bytes, bytes]]]:
        response: Any = self._client.xreadgroup(
            self._group, self._name, {self._stream: last_id}, count=self._batch_size, block=block_ms
        )
        if not response:
            return []
        # [[stream, [(id, fields), …]]] (RESP2, the client default); a deleted entry has no fields.
        return [(entry_id, fields) for entry_id, fields in response[0][1] if fields]

    def write(self, entries: Sequence[tuple[bytes, dict[bytes, bytes]]], redelivered: bool = False) -> None:
        """Write a batch; what the database refuses is dead-lettered, the rest is written."""
        pending = []
        unreadable: list[tuple[bytes, dict[bytes, bytes], str]] = []
        for entry_id, fields in entries:
            try:
                event = TrackingEvent.from_dict(json.loads(fields[b"event"]))
                pending.append(PendingEvent(event, entry_id, redelivered))
            except (KeyError, ValueError, TypeError, AttributeError) as error:
                unreadable.append((entry_id, fields, describe_error(error)))
        for entry_id, fields, reason in unreadable:
            raw = fields.get(b"event", repr(fields).encode()).decode("utf-8", "backslashreplace")
            letter = self.dead_letters.add(raw, f"unreadable tracking entry: {reason}", self._stream)
            log.error("unreadable tracking entry %s dead-lettered as %s", entry_id, letter)
        if unreadable:
            self._acknowledge([entry_id for entry_id, _, _ in unreadable])
        outcomes = self._writer.write(pending, lambda done: self._acknowledge([item.ref for item in done]))
        self._published.forget_started(outcomes)
        after_commit(self._live, self._on_terminal, outcomes)

    def _acknowledge(self, ids: Sequence[bytes | None]) -> None:
        """Entries whose events are committed (or dead-lettered) leave the stream."""
        refs = [ref for ref in ids if ref is not None]
        if not refs:
            return
        pipe = self._client.pipeline()
        pipe.xack(self._stream, self._group, *refs)
        pipe.xdel(self._stream, *refs)
        pipe.execute()

    def run(self, stop: threading.Event) -> None:
        """Lead or stand by until ``stop``; a database outage delays rows, it loses none."""
        failures = 0  # in a row: the wait doubles from 0.5 s up to 5 s, and resets on success
        while not stop.is_set():
            try:
                if not self.lead():
                    stop.wait(1.0)
                    continue
                self.drain_once()
                failures = 0
            except LostLeadership:
                self._lost()
            except Exception:
                failures += 1
                wait = backoff.delay(failures, RECONNECT_BASE, RECONNECT_MAX)
                log.exception("recorder %s could not write a batch; retrying in %.1fs", self._name, wait)
                stop.wait(wait)
        self.release()
