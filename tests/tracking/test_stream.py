"""The Redis Stream write path: batches, acknowledgement after commit, outages, leader failover."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.recorder import SyncRecorder
from netraven_tasks.tracking.stream import RecorderConsumer, SplitRecorder, StreamRecorder
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def stream(redis_client: redis.Redis):
    name = f"test:tracking:{uuid.uuid4().hex[:8]}"
    yield name
    redis_client.delete(name)


@pytest.fixture
def sessions(settings):
    from netraven_tasks.db import session_factory

    return session_factory(settings)


def consumer(redis_client, sessions, stream, name="c1", hooks=(), ttl=15.0) -> RecorderConsumer:
    return RecorderConsumer(
        redis_client, sessions, name, hooks, stream=stream, batch_size=100, block_ms=10,
        leader_ttl_seconds=ttl,
    )  # fmt: skip


def job_events(task_id: str, outcome: EventKind = EventKind.SUCCEEDED) -> list[TrackingEvent]:
    t0 = utcnow()
    return [
        TrackingEvent(EventKind.STARTED, task_id, "reachability_check", at=t0, worker="w1"),
        TrackingEvent(outcome, task_id, "reachability_check", at=t0 + timedelta(seconds=2)),
    ]


def statuses(sessions) -> dict[str, tuple[str, int]]:
    with sessions() as session:
        return {j.task_id: (j.status, j.attempts) for j in session.scalars(sa.select(JobLog))}


def drain(c: RecorderConsumer) -> int:
    total = 0
    while (n := c.drain_once(block_ms=10)) > 0:
        total += n
    return total


def test_streamed_events_are_written_in_batches_and_removed_after_commit(redis_client, sessions, stream):
    outcomes = []
    recorder = StreamRecorder(redis_client, stream)
    c = consumer(redis_client, sessions, stream, hooks=[outcomes.append])
    assert c.lead()
    for i in range(250):
        for e in job_events(f"t{i}", EventKind.FAILED if i % 5 == 0 else EventKind.SUCCEEDED):
            recorder.record(e)
    assert drain(c) == 500
    rows = statuses(sessions)
    assert len(rows) == 250
    assert sum(1 for s, _ in rows.values() if s == "failed") == 50
    assert all(attempts == 1 for _, attempts in rows.values())
    assert redis_client.xlen(stream) == 0, "acknowledged entries are deleted"
    assert len(outcomes) == 250 and all(o.became_terminal for o in outcomes)


def test_database_outage_delays_rows_and_loses_none(redis_client, sessions, stream, settings):
    recorder = StreamRecorder(redis_client, stream)
    for i in range(20):
        for e in job_events(f"outage{i}"):
            recorder.record(e)
    down = sessionmaker(sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none"))
    c = consumer(redis_client, down, stream)
    assert c.lead()
    with pytest.raises(sa.exc.OperationalError):
        c.drain_once(block_ms=10)
    pending = redis_client.xpending(stream, "recorder")["pending"]
    assert pending == 40, "nothing is acknowledged before it is committed"
    assert statuses(sessions) == {}
    c.sessions = sessions  # the database is back
    assert drain(c) == 40
    assert len(statuses(sessions)) == 20
    assert redis_client.xpending(stream, "recorder")["pending"] == 0


def test_new_leader_adopts_what_a_dead_leader_left_unacknowledged(redis_client, sessions, stream):
    recorder = StreamRecorder(redis_client, stream)
    for e in job_events("orphan"):
        recorder.record(e)
    first = consumer(redis_client, sessions, stream, "first", ttl=0.5)
    assert first.lead()
    assert len(first._read(">", 10)) == 2  # read, then the process dies before writing
    second = consumer(redis_client, sessions, stream, "second", ttl=0.5)
    assert not second.lead(), "one leader at a time"
    eventually(second.lead, timeout=5, message="the dead leader's lock (ttl 0.5 s) to expire")
    # Idle about 0.5 s: the old leader could still be inside a batch (adoption waits 2 x ttl = 1 s).
    assert drain(second) == 0
    assert eventually(lambda: drain(second), timeout=5, message="the orphans to be adopted") == 2
    assert statuses(sessions) == {"orphan": ("completed", 1)}


def test_replayed_entries_are_idempotent(redis_client, sessions, stream):
    c = consumer(redis_client, sessions, stream)
    c.lead()
    events = job_events("twice")
    entries = [(f"{i + 1}-0".encode(), {b"event": json.dumps(e.to_dict()).encode()})
               for i, e in enumerate(events)]  # fmt: skip
    c.write(entries)
    c.write(entries)
    assert statuses(sessions) == {"twice": ("completed", 1)}


def test_malformed_entry_is_dropped_without_blocking_the_rest(redis_client, sessions, stream):
    c = consumer(redis_client, sessions, stream)
    c.lead()
    redis_client.xadd(stream, {"event": "{not json"})
    for e in job_events("fine"):
        StreamRecorder(redis_client, stream).record(e)
    assert drain(c) == 3
    assert statuses(sessions) == {"fine": ("completed", 1)}


def test_split_recorder_writes_queued_at_once_and_streams_the_rest(redis_client, sessions, stream):
    split = SplitRecorder(SyncRecorder(sessions), StreamRecorder(redis_client, stream))
    split.record(TrackingEvent(EventKind.QUEUED, "split", "reachability_check", owner_id=None))
    assert statuses(sessions) == {"split": ("queued", 0)}
    for e in job_events("split"):
        split.record(e)
    assert redis_client.xlen(stream) == 2
    assert statuses(sessions) == {"split": ("queued", 0)}


def test_the_session_worker_hosts_the_leading_consumer(worker, redis_client):
    from netraven_tasks.tracking.stream import GROUP, LEADER_LOCK, STREAM

    def consumers() -> list[str]:
        try:
            return [c["name"].decode() for c in redis_client.xinfo_consumers(STREAM, GROUP)]
        except redis.ResponseError:  # the recorder process has not made the group yet
            return []

    eventually(lambda: redis_client.exists(f"{LEADER_LOCK}:{STREAM}") and consumers(), message="a leader")
    assert [name.split("@")[0] for name in consumers()] == ["test"]
    assert all(name.endswith(":recorder") for name in consumers())


def test_backlog_reports_count_and_age_of_the_oldest_entry(redis_client, stream):
    from netraven_tasks.tracking.stream import backlog

    assert backlog(redis_client, stream) == (0, 0.0)
    redis_client.xadd(stream, {"event": "{}"}, id="1000000-0")
    redis_client.xadd(stream, {"event": "{}"}, id="1005000-0")
    assert backlog(redis_client, stream, now=1010.0) == (2, 10.0)
