"""The reaper settles rows whose worker vanished, and leaves live ones alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.tracking.reaper import RETRY_REDELIVERY_SECONDS, vanished_events

pytestmark = pytest.mark.usefixtures("clean_db")


def _row(db_session, task_id: str, status: str, updated_ago: float, **extra) -> JobLog:
    now = utcnow()
    row = JobLog(
        task_id=task_id, job_type="reachability_check", status=status, attempts=1,
        queued_at=now - timedelta(seconds=updated_ago + 1), updated_at=now - timedelta(seconds=updated_ago),
        started_at=now - timedelta(seconds=updated_ago), worker="w1", **extra,
    )  # fmt: skip
    db_session.add(row)
    db_session.commit()
    return row


def test_running_row_past_its_time_limit_is_reaped_and_young_ones_stay(db_session, settings):
    # reachability_check has a 120 s hard limit; grace 60 s.
    _row(db_session, "old", "running", updated_ago=200)
    _row(db_session, "young", "running", updated_ago=100)
    _row(db_session, "done", "completed", updated_ago=10_000)
    events = vanished_events(db_session, utcnow(), grace_seconds=60)
    assert [e.task_id for e in events] == ["old"]
    assert events[0].error_type == "WorkerLost"


def test_retrying_row_waits_for_broker_redelivery_before_it_is_reaped(db_session):
    now = utcnow()
    due = now - timedelta(seconds=RETRY_REDELIVERY_SECONDS + 500)
    _row(db_session, "lost-retry", "retrying", updated_ago=RETRY_REDELIVERY_SECONDS + 600,
         next_retry_at=due)  # fmt: skip
    _row(db_session, "waiting", "retrying", updated_ago=1000, next_retry_at=now - timedelta(seconds=900))
    assert [e.task_id for e in vanished_events(db_session, now, grace_seconds=60)] == ["lost-retry"]


def test_reaper_task_marks_rows_failed_through_the_recorder(db_session, settings, monkeypatch):
    from netraven_tasks.tracking import tasks

    _row(db_session, "ghost", "running", updated_ago=10_000)
    assert tasks.reap_vanished_jobs() == 1
    db_session.expire_all()
    row = db_session.query(JobLog).filter_by(task_id="ghost").one()
    assert row.status == "failed"
    assert row.error_type == "WorkerLost"
    assert row.entries[-1].event == "reaped"
    assert tasks.reap_vanished_jobs() == 0


def test_reaper_waits_while_the_recorder_is_behind(db_session, settings, redis_client, monkeypatch):
    from netraven_tasks.tracking import tasks

    # A private stream: the session worker's consumer must not drain it under the test.
    stream = "test:reaper:backlog"
    monkeypatch.setattr(tasks, "tracking_streams", lambda app: [stream])
    _row(db_session, "maybe-done", "running", updated_ago=10_000)
    old_id = f"{int((utcnow().timestamp() - 120) * 1000)}-0"
    redis_client.xadd(stream, {"event": "{}"}, id=old_id)  # an event waiting for two minutes
    try:
        assert tasks.reap_vanished_jobs() == 0
    finally:
        redis_client.delete(stream)
    assert tasks.reap_vanished_jobs() == 1


def test_queued_row_is_settled_only_when_no_broker_holds_its_message(db_session):
    import json
    import uuid

    import redis

    from netraven_tasks.tracking.broker_inventory import EverythingHeld, RedisInventory
    from netraven_tasks.tracking.reaper import lost_message_events
    from tests.conftest import SPARE_REDIS_URL

    client = redis.Redis.from_url(SPARE_REDIS_URL)
    ids = {name: str(uuid.uuid4()) for name in ("in_queue", "unacked", "event_waiting", "lost", "young")}
    queue, stream = f"test-queue-{uuid.uuid4().hex[:6]}", f"test-stream-{uuid.uuid4().hex[:6]}"
    try:
        client.rpush(queue, json.dumps({"headers": {"id": ids["in_queue"]}, "body": "..."}))
        client.hset("unacked", "tag-1", json.dumps([{"headers": {"id": ids["unacked"]}}, "", queue]))
        client.xadd(stream, {"event": json.dumps({"kind": "started", "task_id": ids["event_waiting"]})})
        for name, task_id in ids.items():
            _row(db_session, task_id, "queued", updated_ago=10 if name == "young" else 1_000)
        inventory = RedisInventory(client, [queue], [stream])
        events = lost_message_events(db_session, utcnow(), 300, inventory)
        assert [(e.task_id, e.error_type) for e in events] == [(ids["lost"], "MessageLost")]
        assert lost_message_events(db_session, utcnow(), 300, EverythingHeld()) == []
    finally:
        client.delete(queue, stream)
        client.hdel("unacked", "tag-1")
        client.close()
