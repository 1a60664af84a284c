"""Deadlines, the record of published messages and the redelivery check, piece by piece (real
PostgreSQL and Redis); tests/reliability/test_deadlines.py runs them with real workers."""

from __future__ import annotations

import importlib
import inspect
from datetime import timedelta

import pytest
from celery import Celery

from netraven_tasks import celery_app
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.settings import Settings, SettingsError, get_settings
from netraven_tasks.tracking import reaper, tasks
from netraven_tasks.tracking.deadlines import renew_deadlines
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.published import PublishedMessages
from netraven_tasks.tracking.recorder import SyncRecorder
from netraven_tasks.tracking.redelivery import settled_status
from tests.conftest import ROOT, SPARE_REDIS_URL, TEST_ENV


def _job(session, task_id: str, status: str, **extra) -> JobLog:  # type: ignore[no-untyped-def]
    hour_ago = utcnow() - timedelta(hours=1)
    row = JobLog(
        task_id=task_id, job_type="test_counted", status=status, attempts=1, queued_at=hour_ago,
        updated_at=hour_ago, **extra,
    )  # fmt: skip
    session.add(row)
    session.commit()
    return row


@pytest.mark.usefixtures("clean_db")
def test_heartbeat_renews_the_given_runs_in_one_statement_and_leaves_updated_at_alone(db_session, settings):
    # "queued": the worker runs it, but the recorder has not written its start yet.
    for task_id, status in (("a", "running"), ("b", "queued"), ("other", "running")):
        _job(db_session, task_id, status)
    deadline = utcnow() + timedelta(seconds=60)
    with session_factory(settings).begin() as session:
        assert renew_deadlines(session, ["b", "a", "gone"], deadline) == 2
    db_session.expire_all()
    rows = {row.task_id: row for row in db_session.query(JobLog)}
    assert rows["a"].deadline_at == rows["b"].deadline_at == deadline
    assert rows["other"].deadline_at is None
    # updated_at marks the hours the rollups re-roll: a heartbeat must not move it.
    assert all(row.updated_at == row.queued_at for row in rows.values())


@pytest.mark.usefixtures("clean_db")
def test_settled_status_answers_only_for_finished_runs(settings, db_session):
    for task_id, status in (("done", "completed"), ("reaped", "failed"), ("live", "running")):
        _job(db_session, task_id, status)
    sessions = session_factory(settings)
    assert settled_status(sessions, "done") == "completed"
    assert settled_status(sessions, "reaped") == "failed"
    assert settled_status(sessions, "live") is None
    assert settled_status(sessions, "never-seen") is None


@pytest.mark.usefixtures("clean_db")
def test_a_launched_message_is_in_our_record(settings, redis_client, spare_redis):
    # Published through an app on the spare db, where no worker takes it: the record keeps it.
    app = Celery("record-test", broker=SPARE_REDIS_URL, set_as_current=False)
    launched = launch_job(settings, "test_nap", {}, None, app=app)
    assert PublishedMessages(redis_client).held({launched.task_id, "other"}) == {launched.task_id}
    redis_client.zrem("netraven:published", launched.task_id)


@pytest.mark.usefixtures("clean_db")
def test_the_recorder_forgets_a_message_once_the_run_started(settings, spare_redis):
    published = PublishedMessages(spare_redis)
    recorder = SyncRecorder(session_factory(settings), published=published)
    queued = TrackingEvent(kind=EventKind.QUEUED, task_id="t1", job_type="test_nap")
    published.add("t1")
    recorder.record(queued)
    assert published.held({"t1"}) == {"t1"}, "still queued: its message waits in the broker"
    recorder.record(TrackingEvent(kind=EventKind.STARTED, task_id="t1", job_type="test_nap", worker="w"))
    assert published.held({"t1"}) == set()


def test_published_ids_older_than_the_trim_are_forgotten(spare_redis):
    published = PublishedMessages(spare_redis)
    published.add("old", at=100.0)
    published.add("new", at=200.0)
    assert published.trim(before=150.0) == 1
    assert published.held({"old", "new"}) == {"new"}


def test_the_redelivery_time_is_one_setting_the_app_and_the_reaper_read():
    changed = get_settings().model_copy(update={"redelivery_seconds": 17})
    app = celery_app.create_celery_app(changed)
    assert app.conf.broker_transport_options["visibility_timeout"] == 17
    assert reaper.ReaperHorizons.of(changed).redelivery == 17
    assert not hasattr(celery_app, "REDELIVERY_SECONDS")
    for module in (reaper, tasks, celery_app):
        source = inspect.getsource(module)
        assert "3600" not in source and "REDELIVERY_SECONDS =" not in source, module.__name__


@pytest.mark.parametrize(("redelivery", "sweep_seconds"), [(3600, 100), (600, 100), (60, 30), (5, 2), (1, 1)])
def test_kombu_sweeps_for_unacked_messages_at_least_twice_per_visibility_timeout(redelivery, sweep_seconds):
    options = celery_app.redis_redelivery_options(redelivery)
    assert options["visibility_timeout"] == redelivery
    assert options["unacked_restore_interval"] * options["unacked_restore_throttle"] == sweep_seconds


def test_apps_made_later_never_take_over_the_processs_shared_tasks():
    from celery import current_app

    celery_app.create_celery_app(get_settings().model_copy(update={"broker_url": "redis://127.0.0.1:1/0"}))
    assert current_app._get_current_object() is celery_app.app


def test_nothing_reads_kombus_private_redis_keys():
    with pytest.raises(ModuleNotFoundError):
        importlib.import_module("netraven_tasks.tracking.broker_inventory")
    for path in (ROOT / "netraven_tasks").rglob("*.py"):
        source = path.read_text()
        # kombu's Redis transport keeps unacknowledged messages in "unacked" and its priority
        # queues under "<queue>\x06\x16<n>": how it stores messages is its own business.
        for private in ('"unacked"', "\\x06\\x16", "unacked_index"):
            assert private not in source, f"{path.relative_to(ROOT)} reads kombu's key {private}"


def test_the_deadline_must_leave_room_for_a_late_heartbeat():
    slow = {**TEST_ENV, "NETRAVEN_HEARTBEAT_SECONDS": "20", "NETRAVEN_DEADLINE_SECONDS": "30"}
    with pytest.raises(SettingsError, match="NETRAVEN_DEADLINE_SECONDS must be at least twice"):
        Settings.from_env(slow)
    assert Settings.from_env({**slow, "NETRAVEN_DEADLINE_SECONDS": "40"}).deadline_seconds == 40
