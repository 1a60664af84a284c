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
    from functools import partial

    from netraven_tasks.tracking import tasks
    from netraven_tasks.tracking.stream import backlog

    # A private stream: the session worker's consumer must not drain it under the test.
    stream = "test:reaper:backlog"
    monkeypatch.setattr(tasks, "backlog", partial(backlog, stream=stream))
    _row(db_session, "maybe-done", "running", updated_ago=10_000)
    old_id = f"{int((utcnow().timestamp() - 120) * 1000)}-0"
    redis_client.xadd(stream, {"event": "{}"}, id=old_id)  # an event waiting for two minutes
    try:
        assert tasks.reap_vanished_jobs() == 0
    finally:
        redis_client.delete(stream)
    assert tasks.reap_vanished_jobs() == 1
