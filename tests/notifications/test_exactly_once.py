"""Exactly once at the SMTP server: across an SMTP outage, and across a worker killed mid-batch."""

from __future__ import annotations

import os
import signal
import uuid
from datetime import UTC, datetime, timedelta

import pytest

from netraven_tasks.celery_app import app
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.notifications import tasks
from netraven_tasks.notifications.outbox import CLAIM_LEASE
from netraven_tasks.notifications.planning import alert_repeat, plan_job_notifications
from tests.conftest import eventually, start_worker, stop_process
from tests.notifications.conftest import insert_failed_jobs

pytestmark = pytest.mark.usefixtures("clean_db")


def _later(delta: timedelta) -> str:
    return (datetime.now(UTC) + delta).isoformat()


def test_smtp_down_during_send_then_up_delivers_exactly_once(
    settings, worker, wait_for_job, mail, make_user, outbox, settled_mail
):
    user = make_user("olga")
    mail.stop()
    launched = launch_job(settings, "test_broken", {"host": "sw-outage"}, user)
    wait_for_job(launched.job_log_id)
    [row] = eventually(
        lambda: [r for r in outbox(user) if r.attempts == 1 and r.state == "pending"],
        message="a failed first attempt",
    )
    assert "Connection refused" in row.last_error or "ConnectionRefused" in row.last_error
    assert row.next_attempt_at > row.created_at  # backed off

    tasks.deliver_outbox()  # still down and not due yet: nothing happens
    assert outbox(user)[0].attempts == 1

    mail.start()
    app.send_task(tasks.DELIVER_TASK, kwargs={"now": _later(timedelta(minutes=2))})
    eventually(lambda: outbox(user)[0].state == "sent", message="the row sent")
    tasks.deliver_outbox(now=_later(timedelta(hours=2)))  # and again: nothing more to send
    mail.wait_for(1)
    # Exactly once: still one after a later job's message went through the same worker and outbox.
    [received] = settled_mail()
    assert received.rcpt_tos == ("olga@example.test",)
    assert outbox(user)[0].attempts == 2


def test_worker_killed_mid_batch_then_restarted_sends_every_message_once(
    settings, mail, make_user, outbox, tmp_path
):
    total = 8
    user = make_user("kim")
    with session_factory(settings).begin() as session:
        for job_id in insert_failed_jobs(settings, user, total):
            plan_job_notifications(
                session, job_id, tasks.renderer(settings), settings.mail_from, alert_repeat(settings)
            )
    assert len(outbox(user)) == total

    mail.handler.delay = 0.1
    mail.handler.hold_at = 4  # the 4th message is still in DATA when the worker dies
    mail.handler.hold_seconds = 30
    queue = f"notify-kill-{uuid.uuid4().hex[:6]}"
    first = start_worker("notify-kill", tmp_path / "first.log", ["-Q", queue])
    try:
        app.send_task(tasks.DELIVER_TASK, queue=queue)
        assert mail.handler.holding.wait(30), "the batch never reached the 4th message"
        for pid in [*first.child_pids(), first.process.pid]:
            os.kill(pid, signal.SIGKILL)
        first.process.wait(10)
    finally:
        stop_process(first.process)

    states = [r.state for r in outbox(user)]
    assert states[:3] == ["sent"] * 3 and states[3] == "sending" and set(states[4:]) == {"pending"}
    assert len(mail.received) == 3

    mail.handler.hold_at = None
    mail.handler.delay = 0
    second = start_worker("notify-restart", tmp_path / "second.log", ["-Q", queue])
    try:
        # Once the dead sender's claim has expired, the next run sends the rest.
        app.send_task(
            tasks.DELIVER_TASK, queue=queue, kwargs={"now": _later(CLAIM_LEASE + timedelta(seconds=5))}
        )
        eventually(lambda: all(r.state == "sent" for r in outbox(user)), timeout=60, message="all sent")
    finally:
        stop_process(second.process)

    received = mail.received
    message_ids = [m.message["Message-ID"] for m in received]
    print(
        f"\nexactly-once after SIGKILL: {total} outbox rows, {len(received)} accepted by SMTP, "
        f"{len(set(message_ids))} distinct Message-IDs, {mail.handler.data_calls} DATA commands"
    )
    assert len(received) == total
    assert sorted(message_ids) == sorted(r.message_id for r in outbox(user))
    assert [r.attempts for r in outbox(user)] == [1, 1, 1, 2, 1, 1, 1, 1]
    devices = sorted(m.subject.rsplit(" ", 1)[-1] for m in received)
    assert devices == [f"sw-{n:02d}" for n in range(total)]
