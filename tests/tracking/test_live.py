"""The live feed: every committed change of a row reaches the capped Redis stream, in order."""

from __future__ import annotations

import uuid

import pytest
import redis

from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.recorder import SyncRecorder
from netraven_tasks.tracking.stream import RecorderConsumer, StreamRecorder
from tests.tracking.test_stream import job_events

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def live(redis_client: redis.Redis):
    name = f"test:live:{uuid.uuid4().hex[:8]}"
    yield LiveFeed(redis_client, stream=name)
    redis_client.delete(name)


@pytest.fixture
def sessions(settings):
    from netraven_tasks.db import session_factory

    return session_factory(settings)


def test_sync_recorder_publishes_each_committed_row(sessions, live):
    start = live.last_id()
    recorder = SyncRecorder(sessions, live=live)
    recorder.record(TrackingEvent(EventKind.QUEUED, "live-1", "reachability_check", device="r1"))
    for event in job_events("live-1"):
        recorder.record(event)
    rows = [row for _, row in live.read(start, block_ms=10)]
    assert [row["status"] for row in rows] == ["queued", "running", "completed"]
    assert {row["task_id"] for row in rows} == {"live-1"}
    assert rows[-1]["device"] == "r1" and rows[-1]["finished_at"] is not None


def test_stream_consumer_publishes_one_row_per_job_per_batch(redis_client, sessions, live):
    stream = f"test:tracking:{uuid.uuid4().hex[:8]}"
    consumer = RecorderConsumer(redis_client, sessions, "c1", stream=stream, block_ms=10, live=live)
    consumer.lead()
    for task_id in ("a", "b"):
        for event in job_events(task_id):
            StreamRecorder(redis_client, stream).record(event)
    start = live.last_id()
    assert consumer.drain_once(block_ms=10) == 4
    rows = [row for _, row in live.read(start, block_ms=10)]
    assert sorted((row["task_id"], row["status"]) for row in rows) == [("a", "completed"), ("b", "completed")]
    redis_client.delete(stream)


def test_a_broken_live_feed_does_not_undo_the_row(sessions):
    dead = LiveFeed(redis.Redis(host="127.0.0.1", port=1, socket_connect_timeout=0.2))
    outcomes: list = []
    recorder = SyncRecorder(sessions, on_terminal=[outcomes.append], live=dead)
    for event in job_events("still-recorded"):
        recorder.record(event)
    assert [o.status for o in outcomes] == ["completed"]
