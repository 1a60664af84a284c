"""Hourly and daily digests through the real worker with a fixed clock: one per user per period."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import pytest

from netraven_tasks.celery_app import app, beat_schedule
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.notifications import tasks
from netraven_tasks.notifications.models import DigestItem
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("clean_db", "worker")


def _finish_jobs(settings, wait_for_job, jobs):  # type: ignore[no-untyped-def]
    for job_type, host, owner in jobs:
        # test_flaky succeeding on its first attempt is a plain completion
        args = {"host": host, "succeed_on_attempt": 1} if job_type == "test_flaky" else {"host": host}
        launched = launch_job(settings, job_type, args, owner)
        wait_for_job(launched.job_log_id)


def _wait_items(count_rows, expected: int) -> None:  # type: ignore[no-untyped-def]
    eventually(lambda: count_rows(DigestItem) == expected, message=f"{expected} digest items")


def _run_through_worker(worker, entry: str, now: datetime, times: int = 1) -> None:  # type: ignore[no-untyped-def]
    """Publish the beat entry's task ``times`` at once, with a fixed clock; wait until all ran."""
    task = app.conf.beat_schedule[entry]["task"]
    ids = [app.send_task(task, kwargs={"now": now.isoformat()}).id for _ in range(times)]
    eventually(
        lambda: all(f"[{task_id}] succeeded" in worker.log() for task_id in ids),
        timeout=60,
        message=f"{entry} to finish",
    )


def test_beat_schedules_the_digests_at_minute_zero_and_the_digest_hour(settings):
    schedule = beat_schedule(settings)
    hourly, daily = schedule["hourly-digest"], schedule["daily-digest"]
    assert hourly["task"] == "netraven.notifications.send_hourly_digest"
    assert daily["task"] == "netraven.notifications.send_daily_digest"
    assert hourly["schedule"].minute == {0} and len(hourly["schedule"].hour) == 24
    assert daily["schedule"].minute == {0} and daily["schedule"].hour == {settings.digest_hour}
    assert schedule["deliver-notifications"]["task"] == "netraven.notifications.deliver_outbox"


def test_hourly_and_daily_users_get_one_digest_each_with_failures_first(
    settings, worker, wait_for_job, mail, make_user, count_rows, outbox
):
    hourly = make_user("hana", notification_frequency="hourly")
    daily = make_user("dave", notification_frequency="daily")
    immediate = make_user("ian")
    _finish_jobs(
        settings,
        wait_for_job,
        [
            ("test_flaky", "sw-ok-1", hourly),
            ("test_broken", "sw-bad-1", hourly),
            ("test_broken", "sw-bad-2", hourly),
            ("test_broken", "sw-bad-3", daily),
            ("test_broken", "sw-now-1", immediate),
        ],
    )
    _wait_items(count_rows, 4)
    mail.wait_for(1, address="ian@example.test")
    assert mail.to("hana@example.test") == [] and mail.to("dave@example.test") == []

    now = datetime.now(UTC) + timedelta(hours=1)
    _run_through_worker(worker, "hourly-digest", now, times=2)  # twice at once: still one digest
    [digest] = mail.wait_for(1, address="hana@example.test")
    assert mail.to("dave@example.test") == []
    period_start = now.replace(minute=0, second=0, microsecond=0) - timedelta(hours=1)
    assert digest.subject == (
        f"NetRaven hourly digest: 3 jobs, 2 not completed ({period_start:%Y-%m-%d %H:%M} UTC)"
    )
    text = digest.part("plain")
    assert "3 jobs: 2 failed, 1 completed" in text
    assert text.index("sw-bad-1") < text.index("sw-ok-1") and text.index("sw-bad-2") < text.index("sw-ok-1")
    assert "ValueError: template for sw-bad-1 is invalid" in text
    assert "sw-bad-3" not in text and "sw-now-1" not in text
    assert "sw-ok-1" in digest.part("html")

    _run_through_worker(worker, "hourly-digest", now)  # again for the same hour: nothing new
    _run_through_worker(worker, "hourly-digest", now + timedelta(hours=1))  # next hour, nothing pending
    _run_through_worker(worker, "daily-digest", now + timedelta(days=1))
    [daily_digest] = mail.wait_for(1, address="dave@example.test")
    assert "sw-bad-3" in daily_digest.part("plain") and "1 job, 1 not completed" in daily_digest.subject

    assert len(mail.to("hana@example.test")) == 1 and len(mail.to("dave@example.test")) == 1
    # The pool records a send after the server's answer: the mail can be there a moment before.
    expected = [(hourly, "hourly", "sent"), (daily, "daily", "sent")]

    def digest_rows() -> list[tuple[int, str, str]]:
        return sorted((r.user_id, r.period, r.state) for r in outbox() if r.kind == "digest")

    eventually(lambda: digest_rows() == expected, timeout=30, message=lambda: f"digest rows {digest_rows()}")


def test_changing_to_immediate_still_sends_pending_items_in_the_next_digest(
    settings, wait_for_job, mail, make_user, set_preferences, count_rows
):
    user = make_user("fran", notification_frequency="hourly")
    _finish_jobs(settings, wait_for_job, [("test_broken", "sw-before", user)])
    _wait_items(count_rows, 1)
    set_preferences(user, notification_frequency="immediate")
    _finish_jobs(settings, wait_for_job, [("test_broken", "sw-after", user)])
    [immediate] = mail.wait_for(1, address="fran@example.test")
    assert "sw-after" in immediate.subject

    tasks.send_hourly_digest(now=(datetime.now(UTC) + timedelta(hours=1)).isoformat())
    received = mail.wait_for(2, address="fran@example.test")
    digest = received[1]
    assert "hourly digest" in digest.subject and "sw-before" in digest.part("plain")
    assert "sw-after" not in digest.part("plain")


def test_concurrent_digest_runs_in_process_make_exactly_one_digest(
    settings, wait_for_job, mail, make_user, count_rows, outbox
):
    users = [make_user(f"user{i}", notification_frequency="hourly") for i in range(3)]
    _finish_jobs(settings, wait_for_job, [("test_broken", f"sw-{i}", u) for i, u in enumerate(users)])
    _wait_items(count_rows, 3)
    now = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    start = threading.Barrier(4)
    errors: list[BaseException] = []

    def run() -> None:
        start.wait()
        try:
            tasks.send_hourly_digest(now=now)
        except BaseException as error:
            errors.append(error)

    threads = [threading.Thread(target=run) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert len(mail.wait_for(3)) == 3
    assert sorted(m.rcpt_tos[0] for m in mail.received) == [f"user{i}@example.test" for i in range(3)]
    assert len([r for r in outbox() if r.kind == "digest"]) == 3


def test_nothing_pending_sends_nothing(settings, mail, make_user, outbox):
    make_user("idle", notification_frequency="hourly")
    assert tasks.send_hourly_digest(now=datetime.now(UTC).isoformat()) == {"digests": 0, "deliveries": 0}
    assert tasks.send_daily_digest() == {"digests": 0, "deliveries": 0}
    assert mail.received == [] and outbox() == []
