"""The recorder plans a batch's notifications in its own transaction and wakes delivery once."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta

import sqlalchemy as sa

from netraven_tasks.models import utcnow
from netraven_tasks.notifications.batch_planning import NotificationPlanner
from netraven_tasks.notifications.models import DigestItem, OutboxMessage
from netraven_tasks.notifications.tasks import DELIVER_TASK, NOTIFY_BATCH_TASK, NOTIFY_TASK, renderer
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.stream import RecorderConsumer, StreamRecorder
from tests.notifications.conftest import published


def record_batch(redis_client, settings, planner, owners: list[int]) -> None:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import session_factory

    stream = f"test:tracking:{uuid.uuid4().hex[:8]}"
    recorder = StreamRecorder(redis_client, stream)
    t0 = utcnow()
    for i, owner in enumerate(owners):
        task_id = f"planned-{uuid.uuid4().hex[:8]}-{i}"
        recorder.record(TrackingEvent(EventKind.QUEUED, task_id, "reachability_check", at=t0, owner_id=owner))
        recorder.record(TrackingEvent(EventKind.STARTED, task_id, "reachability_check", at=t0, worker="w"))
        end = t0 + timedelta(seconds=1)
        recorder.record(
            TrackingEvent(
                EventKind.FAILED, task_id, "reachability_check", at=end, error_type="E", error_message="x"
            )
        )
    consumer = RecorderConsumer(
        redis_client, session_factory(settings), "planner-test", stream=stream, batch_size=1000,
        block_ms=10, planner=planner,
    )  # fmt: skip
    assert consumer.lead()
    assert consumer.drain_once(block_ms=10) == 3 * len(owners), "one batch"
    consumer.release()
    redis_client.delete(stream)


def test_a_batch_is_planned_in_its_transaction_and_delivery_woken_once(
    redis_client, settings, db_session, make_user, broker
):
    app, client = broker
    immediate = make_user("immediate-user")
    hourly = make_user("hourly-user", notification_frequency="hourly")
    planner = NotificationPlanner(
        lambda: renderer(settings), settings, app.send_task, DELIVER_TASK, NOTIFY_TASK, NOTIFY_BATCH_TASK
    )
    record_batch(redis_client, settings, planner, [immediate] * 20 + [hourly] * 5)

    outbox_ids = sorted(db_session.scalars(sa.select(OutboxMessage.id)))
    assert len(outbox_ids) == 20
    assert db_session.scalar(sa.select(sa.func.count()).select_from(DigestItem)) == 5
    messages = published(client)
    assert Counter(name for name, _, _ in messages) == {DELIVER_TASK: 1}, "no notify task per job"
    assert sorted(messages[0][2]["ids"]) == outbox_ids

    client.delete("celery")
    record_batch(redis_client, settings, planner, [hourly] * 3)
    assert published(client) == [], "only digest items: nothing due, no wake-up"


def test_planning_that_fails_keeps_the_rows_and_falls_back_to_one_task_per_job(
    redis_client, settings, db_session, make_user, broker
):
    from netraven_tasks.models import JobLog

    app, client = broker
    owner = make_user("unlucky-user")

    def broken_renderer():  # type: ignore[no-untyped-def]
        raise RuntimeError("template store unavailable")

    planner = NotificationPlanner(
        broken_renderer, settings, app.send_task, DELIVER_TASK, NOTIFY_TASK, NOTIFY_BATCH_TASK
    )
    record_batch(redis_client, settings, planner, [owner] * 4)
    statuses = list(db_session.scalars(sa.select(JobLog.status)))
    assert statuses == ["failed"] * 4, "tracking rows are committed although planning failed"
    assert db_session.scalar(sa.select(sa.func.count()).select_from(OutboxMessage)) == 0
    assert Counter(name for name, _, _ in published(client)) == {NOTIFY_TASK: 4}
