"""One summary per fleet run, planned in the transaction that settles it: exactly once, no
message per device, one digest line per batch, and per-device alerts only for scheduled batches."""

from __future__ import annotations

import uuid
from collections import Counter
from datetime import timedelta
from typing import Any

import pytest
import sqlalchemy as sa

from netraven_tasks.batches.models import Batch
from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.batch_planning import NotificationPlanner
from netraven_tasks.notifications.batch_summary import plan_batch_summary
from netraven_tasks.notifications.digests import make_digests
from netraven_tasks.notifications.models import DigestItem, OutboxMessage
from netraven_tasks.notifications.tasks import (
    DELIVER_TASK,
    NOTIFY_BATCH_TASK,
    NOTIFY_TASK,
    notification_planner,
    renderer,
)
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.transitions import apply_events
from tests.notifications.conftest import published

pytestmark = pytest.mark.usefixtures("clean_db")


def new_batch(settings, owner_id: int | None, total: int, schedule_id: int | None = None) -> int:  # type: ignore[no-untyped-def]
    with session_factory(settings).begin() as session:
        batch = Batch(
            job_type="reachability_check", total=total, arguments={}, targets={"tags": ["core"]},
            owner_id=owner_id, schedule_id=schedule_id,
        )  # fmt: skip
        session.add(batch)
        session.flush()
        return batch.id


def run_children(
    settings, planner, batch_id: int, owner_id: int | None, outcomes: list[str], prefix: str = "r"
):  # type: ignore[no-untyped-def]
    """Queue one child per outcome, then end them all in one recorded transaction with ``planner``."""
    t0 = utcnow()
    ids = [f"{prefix}-{uuid.uuid4().hex[:8]}-{i}" for i in range(len(outcomes))]
    queued = [
        TrackingEvent(EventKind.QUEUED, task_id, "reachability_check", at=t0, owner_id=owner_id,
                      device=f"{prefix}{i:02d}", batch_id=batch_id)
        for i, task_id in enumerate(ids)
    ]  # fmt: skip
    ended: list[TrackingEvent] = []
    for i, (task_id, outcome) in enumerate(zip(ids, outcomes, strict=True)):
        start = t0 + timedelta(seconds=1)
        ended.append(TrackingEvent(EventKind.STARTED, task_id, "reachability_check", at=start, worker="w"))
        end = start + timedelta(seconds=i + 1)
        if outcome == "failed":
            error = f"<b>no</b> {i}\nsecond line"
            ended.append(TrackingEvent(EventKind.FAILED, task_id, "reachability_check", at=end,
                                       error_type="ConnectionRefusedError", error_message=error))  # fmt: skip
        else:
            ended.append(
                TrackingEvent(EventKind.SUCCEEDED, task_id, "reachability_check", at=end, result={"ok": 1})
            )
    sessions = session_factory(settings)
    with sessions.begin() as session:
        apply_events(session, queued)
    with sessions.begin() as session:
        plan = planner.plan(session, apply_events(session, ended))
    planner.after_commit(plan)


def rows(db_session, model) -> list[Any]:  # type: ignore[no-untyped-def]
    db_session.expire_all()
    return list(db_session.scalars(sa.select(model).order_by(model.id)))


def test_a_settled_batch_gets_one_summary_per_channel_and_its_children_none(
    settings, db_session, make_user, broker, http_receiver
):
    app, client = broker
    owner = make_user("fleet-owner", webhook_url=http_receiver.url("/hook"))
    planner = notification_planner(app, settings)
    batch_id = new_batch(settings, owner, total=6)
    run_children(settings, planner, batch_id, owner, ["completed"] * 4 + ["failed"] * 2)

    outbox = rows(db_session, OutboxMessage)
    assert sorted(row.channel for row in outbox) == ["email", "webhook"]
    assert {row.event for row in outbox} == {"batch_finished"} and {row.job_log_id for row in outbox} == {
        None
    }
    email = next(row for row in outbox if row.channel == "email")
    assert email.subject == "NetRaven: reachability_check on 6 devices: 4 completed, 2 failed"
    assert "- r04: ConnectionRefusedError: <b>no</b> 4\n" in email.body_text
    assert "second line" not in email.body_text, "only the error's first line"
    assert "&lt;b&gt;no&lt;/b&gt; 4" in email.body_html and "<b>no</b>" not in email.body_html
    assert f"http://127.0.0.1:8000/ui/batches/{batch_id}" in email.body_text
    assert "- r05: 6.0 s (failed)" in email.body_text, "the slowest first"
    hook = next(row for row in outbox if row.channel == "webhook").payload
    assert hook["counts"]["failed"] == 2 and hook["status"] == "partial"
    assert [(d["device"], d["error_message"]) for d in hook["failed_devices"]] == [
        ("r04", "<b>no</b> 4"), ("r05", "<b>no</b> 5")
    ]  # fmt: skip
    assert Counter(name for name, _, _ in published(client)) == {DELIVER_TASK: 1}

    # Planning again (the fallback task, a replay) adds nothing.
    with session_factory(settings).begin() as session:
        again = plan_batch_summary(session, batch_id, renderer(settings), settings.mail_from)
    assert again.outbox_ids == [] and again.digest_items == 0
    assert len(rows(db_session, OutboxMessage)) == 2


def test_a_digest_lists_a_batch_as_one_item(settings, db_session, make_user, broker):
    app, _ = broker
    owner = make_user("hourly-fleet", notification_frequency="hourly")
    planner = notification_planner(app, settings)
    batch_id = new_batch(settings, owner, total=12)
    run_children(settings, planner, batch_id, owner, ["completed"] * 9 + ["failed"] * 3)

    items = rows(db_session, DigestItem)
    assert [(item.batch_id, item.job_log_id, item.event) for item in items] == [
        (batch_id, None, "batch_finished")
    ]
    assert rows(db_session, OutboxMessage) == []
    ids = make_digests(
        session_factory(settings),
        "hourly",
        utcnow() + timedelta(hours=1),
        renderer(settings),
        settings.mail_from,
    )
    [digest] = [row for row in rows(db_session, OutboxMessage) if row.id in ids]
    assert "1 fleet run" in digest.subject
    assert "- [partial] reachability_check on 12 devices: 9 completed, 3 failed" in digest.body_text
    assert "failed: r09, r10, r11" in digest.body_text
    assert "r00" not in digest.body_text, "no line per device"


def test_children_of_a_scheduled_batch_still_raise_their_devices_state_alerts(
    settings, db_session, make_user, broker
):
    from netraven_tasks.schedules.models import Schedule

    app, _ = broker
    owner = make_user("scheduler")
    with session_factory(settings).begin() as session:
        schedule = Schedule(
            owner_id=owner, job_type="reachability_check", arguments={}, targets={"tags": ["core"]},
            interval_seconds=3600, grace_seconds=60, next_run_at=utcnow(), slots_from=utcnow(),
        )  # fmt: skip
        session.add(schedule)
        session.flush()
        schedule_id = schedule.id
    planner = notification_planner(app, settings)
    scheduled = new_batch(settings, owner, total=3, schedule_id=schedule_id)
    run_children(settings, planner, scheduled, owner, ["completed", "failed", "completed"], prefix="s")
    by_event = Counter(row.event for row in rows(db_session, OutboxMessage))
    # r01 starts failing: its first-failure alert on each channel, beside the batch's one summary.
    assert by_event == {"batch_finished": 1, "failed": 1}

    launched_by_hand = new_batch(settings, owner, total=3)
    run_children(settings, planner, launched_by_hand, owner, ["completed", "failed", "completed"], prefix="h")
    by_event = Counter(row.event for row in rows(db_session, OutboxMessage))
    assert by_event == {"batch_finished": 2, "failed": 1}, "a batch launched by hand: its summary only"


def test_when_the_summary_cannot_be_planned_the_rows_stay_and_one_task_plans_it(
    settings, db_session, make_user, broker
):
    app, client = broker
    owner = make_user("unlucky-fleet")
    calls = []

    def breaks_on_the_batch():  # type: ignore[no-untyped-def]
        calls.append(1)
        raise RuntimeError("template store unavailable")

    planner = NotificationPlanner(
        breaks_on_the_batch, settings, app.send_task, DELIVER_TASK, NOTIFY_TASK, NOTIFY_BATCH_TASK
    )
    batch_id = new_batch(settings, owner, total=2)
    run_children(settings, planner, batch_id, owner, ["completed", "completed"])
    assert rows(db_session, Batch)[0].status == "completed", "the batch settled although planning failed"
    assert [args for name, args, _ in published(client) if name == NOTIFY_BATCH_TASK] == [[batch_id]]
    with session_factory(settings).begin() as session:
        planned = plan_batch_summary(session, batch_id, renderer(settings), settings.mail_from)
    assert len(planned.outbox_ids) == 1
