"""The reaper settles rows whose worker vanished, and leaves live ones alone."""

from __future__ import annotations

from datetime import timedelta

import pytest

from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.tracking.published import EverythingHeld, PublishedMessages
from netraven_tasks.tracking.reaper import ReaperHorizons, lost_message_events, vanished_events

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


HORIZONS = ReaperHorizons(deadline=60, redelivery=3600, grace=60)


def test_running_row_is_reaped_only_once_its_deadline_passed(db_session):
    now = utcnow()
    _row(db_session, "never-renewed", "running", updated_ago=200)
    _row(db_session, "young", "running", updated_ago=30)
    _row(
        db_session, "long-and-renewed", "running", updated_ago=10_000, deadline_at=now + timedelta(seconds=30)
    )
    _row(
        db_session, "renewals-stopped", "running", updated_ago=10_000, deadline_at=now - timedelta(seconds=1)
    )
    # A retry's attempt started 10 s ago: the older attempt's deadline does not shorten it.
    _row(db_session, "retried", "running", updated_ago=10, deadline_at=now - timedelta(seconds=500))
    _row(db_session, "done", "completed", updated_ago=10_000)
    events = vanished_events(db_session, now, HORIZONS)
    assert sorted(e.task_id for e in events) == ["never-renewed", "renewals-stopped"]
    assert {e.error_type for e in events} == {"WorkerLost"}
    assert all("no heartbeat for more than 60s" in (e.error_message or "") for e in events)


def test_retrying_row_waits_for_the_brokers_redelivery_time_from_the_settings(db_session, settings):
    now = utcnow()
    horizons = ReaperHorizons.of(settings)
    assert horizons.redelivery == settings.redelivery_seconds
    due = now - timedelta(seconds=horizons.redelivery + horizons.grace + 100)
    _row(db_session, "lost-retry", "retrying", updated_ago=horizons.redelivery + horizons.grace + 200,
         next_retry_at=due)  # fmt: skip
    _row(db_session, "waiting", "retrying", updated_ago=1000, next_retry_at=now - timedelta(seconds=900))
    assert [e.task_id for e in vanished_events(db_session, now, horizons)] == ["lost-retry"]
    # A longer visibility timeout in the settings is a longer wait: nothing is copied.
    longer = ReaperHorizons.of(settings.model_copy(update={"redelivery_seconds": horizons.redelivery * 2}))
    assert vanished_events(db_session, now, longer) == []


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


def test_queued_row_is_settled_only_when_our_record_does_not_hold_its_message(db_session, spare_redis):
    published = PublishedMessages(spare_redis)
    published.add("published")
    published.add("started-meanwhile")
    for name in ("published", "lost", "young"):
        _row(db_session, name, "queued", updated_ago=10 if name == "young" else 1_000)
    _row(db_session, "started-meanwhile", "running", updated_ago=1)
    events = lost_message_events(db_session, utcnow(), 300, published)
    assert [(e.task_id, e.error_type) for e in events] == [("lost", "MessageLost")]
    assert lost_message_events(db_session, utcnow(), 300, EverythingHeld()) == []
