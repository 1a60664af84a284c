"""State-change alerts, quiet hours and SMS, on the real worker and through the outbox.

A flapping device is told once when it starts failing, once when it recovers, and once when it
fails again; repeats in a streak are folded; quiet hours hold email until the window ends.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest

from tests.conftest import eventually

FLAP = [False, False, False, True, False]  # fail, fail, fail, succeed, fail


def test_decide_folds_a_streak_and_recovers():
    from netraven_tasks.schedules.alerts import decide

    day, start = timedelta(hours=24), datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    alerts, streak = [], None
    for hours, status in enumerate(["failed", "failed", "failed", "completed", "failed"]):
        alert, streak = decide(streak, status, start + timedelta(hours=hours), day)
        alerts.append(alert)
    assert alerts == ["failed", None, None, "recovered", "failed"]
    alert, folded = decide(None, "failed", start, timedelta(hours=2))
    for hours in (1, 2, 3, 4):
        alert, folded = decide(folded, "failed", start + timedelta(hours=hours), timedelta(hours=2))
        alerts.append(alert)
    assert alerts[-4:] == [None, "still_failing", None, "still_failing"]
    assert folded.failures == 5 and folded.failing_since == start
    assert decide(None, "completed", start, day)[0] is None  # a first success is no change
    assert decide(None, "canceled", start, day)[0] is None


def test_quiet_hours_cross_midnight_in_the_users_time_zone():
    from netraven_tasks.notifications.quiet_hours import hold_until, quiet_until

    night = {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
    at = lambda hour: datetime(2026, 1, 10, hour, 30, tzinfo=UTC)  # noqa: E731 - Berlin is UTC+1
    assert quiet_until(night, at(20)) is None
    assert quiet_until(night, at(21)) == datetime(2026, 1, 11, 6, 0, tzinfo=UTC)
    assert quiet_until(night, at(3)) == datetime(2026, 1, 10, 6, 0, tzinfo=UTC)
    assert quiet_until(night, at(6)) is None
    prefs = {"quiet_hours": night, "critical_job_types": ["config_backup"]}
    assert hold_until(prefs, at(23), job_type="config_backup", urgent=True) is None
    assert hold_until(prefs, at(23), job_type="config_backup", urgent=False) is not None
    assert hold_until(prefs, at(23), job_type="reachability", urgent=True) is not None


def test_repeats_are_folded_into_still_failing_at_most_once_per_window(settings, users):
    from sqlalchemy import select

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog, User
    from netraven_tasks.notifications.models import OutboxMessage
    from netraven_tasks.notifications.planning import alert_repeat, plan_job_notifications
    from netraven_tasks.notifications.rendering import Renderer

    assert alert_repeat(settings) == timedelta(hours=3)  # NETRAVEN_REPEAT_ALERT_HOURS of the tests
    start = datetime(2026, 1, 1, 2, 0, tzinfo=UTC)
    renderer = Renderer(settings.public_url)
    with session_factory(settings).begin() as session:
        owner = users.alice.id
        session.get_one(User, owner).notification_preferences = {"notify_on": "state_changes"}
    for n in range(4):
        at = start + timedelta(hours=2 * n)
        with session_factory(settings).begin() as session:
            job = JobLog(
                task_id=f"fold-{n}", job_type="test_flaky", device="sw-9", owner_id=owner, status="failed",
                queued_at=at, finished_at=at, updated_at=at,
                error_type="ConnectionError", error_message="down",
            )  # fmt: skip
            session.add(job)
            session.flush()
            plan_job_notifications(session, job.id, renderer, settings.mail_from, alert_repeat(settings))
            plan_job_notifications(session, job.id, renderer, settings.mail_from, alert_repeat(settings))
    with session_factory(settings)() as session:
        rows = session.execute(
            select(OutboxMessage.event, OutboxMessage.subject).order_by(OutboxMessage.id)
        ).all()
    assert [event for event, _ in rows] == ["failed", "still_failing"]  # hours 0 and 4 (not 2, not 6)
    assert "test_flaky on sw-9 still failing: 3 runs since 02:00 UTC" in rows[1][1]


def test_the_workers_recorder_repeats_an_alert_after_the_configured_hours(
    worker, client, users, set_preferences, outbox, wait_for_job, settings
):
    """The recorder beside the worker plans the alerts with NETRAVEN_REPEAT_ALERT_HOURS (3 here),
    not a default of 24: a streak last told 4 hours ago gets its "still failing" now."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import utcnow
    from netraven_tasks.schedules.models import AlertStreak

    set_preferences(users.alice.id, notify_on="state_changes")
    device, now = "repeat-sw-01", utcnow()
    with session_factory(settings).begin() as session:
        session.add(
            AlertStreak(
                scope=f"job:{users.alice.id}:test_flaky:{device}", status="failed", failures=2,
                failing_since=now - timedelta(hours=5), last_alert_at=now - timedelta(hours=4),
            )
        )  # fmt: skip
    launched = client.post(
        "/jobs/test_flaky/runs", json={"host": device, "succeed_on_attempt": 0}, headers=users.alice.headers
    ).get_json()
    assert wait_for_job(launched["job_log_id"]).status == "failed"

    def told() -> list[str]:
        return [row.event for row in outbox(users.alice.id) if row.job_log_id == launched["job_log_id"]]

    eventually(lambda: "still_failing" in told(), message="the 3-hour repeat of the failing streak")
    assert set(told()) == {"still_failing"}


@pytest.mark.slow
def test_a_flapping_job_sends_exactly_the_state_change_alerts(
    worker, client, users, set_preferences, outbox, sms_api, wait_for_job, settings, mail
):
    from netraven_tasks.db import session_factory
    from netraven_tasks.schedules.models import AlertStreak

    set_preferences(
        users.alice.id, notify_on="state_changes", sms_number="+14155550123", sms_on_job_failure=True
    )
    runs = []
    for succeeds in FLAP:
        arguments = {"host": "flap-sw-01", "succeed_on_attempt": 1 if succeeds else 0}
        launched = client.post(
            "/jobs/test_flaky/runs", json=arguments, headers=users.alice.headers
        ).get_json()
        job = wait_for_job(launched["job_log_id"])
        assert job.status == ("completed" if succeeds else "failed")

        def counted(job_log_id: int = job.id) -> bool:
            with session_factory(settings)() as session:
                return any(s.last_job_log_id == job_log_id for s in session.query(AlertStreak))

        eventually(counted, message=f"run {job.id} counted in its streak")
        runs.append(job.id)
    time.sleep(1.0)  # the notify task of the last run enqueued its alert before counting: let it send
    alerts = [(row.job_log_id, row.event, row.channel) for row in outbox(users.alice.id)]
    expected_events = [(runs[0], "failed"), (runs[3], "recovered"), (runs[4], "failed")]
    assert sorted(alerts) == sorted(
        (job, event, ch) for job, event in expected_events for ch in ("email", "sms")
    )
    texts = eventually(lambda: len(sms_api.messages) >= 3 and sms_api.messages, message="three SMS")
    time.sleep(1.0)  # as long as a duplicate could take to arrive
    assert len(sms_api.messages) == 3 and sms_api.refused == []
    assert [m["To"] for m in texts] == ["+14155550123"] * 3
    bodies = [m["Body"] for m in texts]
    assert "failed" in bodies[0] and "recovered" in bodies[1] and "failed" in bodies[2], bodies
    assert all(len(m["Body"]) <= 300 and "\n" not in m["Body"] for m in texts)
    assert len(mail.wait_for(3)) == 3


@pytest.mark.slow
def test_quiet_hours_hold_email_until_the_window_ends_then_send_it_once(
    worker, client, users, set_preferences, outbox, mail, wait_for_job, settings
):
    from netraven_tasks.db import session_factory
    from netraven_tasks.notifications.channels import build_channels
    from netraven_tasks.notifications.outbox import deliver_due

    now = datetime.now(UTC)
    window = {"start": f"{(now - timedelta(hours=1)):%H:%M}", "end": f"{(now + timedelta(hours=1)):%H:%M}"}
    set_preferences(users.alice.id, quiet_hours=window)
    set_preferences(users.bob.id, quiet_hours=window, critical_job_types=["test_broken"])
    for user in (users.alice, users.bob):
        launched = client.post(
            "/jobs/test_broken/runs", json={"host": "q-sw"}, headers=user.headers
        ).get_json()
        wait_for_job(launched["job_log_id"])
    [held] = eventually(lambda: outbox(users.alice.id), message="alice's held message")
    assert held.state == "pending" and held.next_attempt_at > now + timedelta(minutes=30)
    assert mail.wait_for(1)[0].subject.startswith("NetRaven job failed")  # bob's: critical, not held
    time.sleep(2.0)  # as long as the immediate send takes: alice's must not come
    assert [m.rcpt_tos for m in mail.received] == [("bob@example.test",)]
    sessions = session_factory(settings)
    after = held.next_attempt_at + timedelta(seconds=1)
    assert deliver_due(sessions, build_channels(settings), now=after).as_dict()["sent"] == 1
    assert deliver_due(sessions, build_channels(settings), now=after).as_dict()["sent"] == 0
    assert len(mail.wait_for(2)) == 2 and len(mail.to("alice@example.test")) == 1
