"""Who is told, on which channel, at which pace: pure functions, no server."""

from __future__ import annotations

from typing import Any

import pytest

from netraven_tasks.notifications.recipients import Delivery, Recipient, plan_deliveries, recipients_for


def person(user_id: int, *, admin: bool = False, active: bool = True, **prefs: Any) -> Recipient:
    return Recipient(user_id, f"u{user_id}", f"u{user_id}@example.test", admin, active, prefs)


def test_the_owner_is_told_and_admins_are_not():
    owner, admin = person(1), person(2, admin=True)
    assert recipients_for(owner, [admin]) == [owner]


def test_ownerless_jobs_go_to_every_active_admin():
    admins = [person(3, admin=True), person(2, admin=True), person(4, admin=True, active=False), person(5)]
    assert [r.user_id for r in recipients_for(None, admins)] == [2, 3]


def test_an_inactive_owner_is_told_nothing():
    assert plan_deliveries(person(1, active=False), [person(2, admin=True)], "failed") == []


def test_defaults_mail_every_final_outcome_at_once():
    for status in ("completed", "failed", "canceled"):
        assert plan_deliveries(person(1), [], status) == [
            Delivery(1, "email", "u1@example.test", "immediate")
        ]


@pytest.mark.parametrize("status", ["queued", "running", "retrying"])
def test_nothing_before_the_final_outcome(status):
    assert plan_deliveries(person(1), [], status) == []


@pytest.mark.parametrize(
    ("prefs", "status", "told"),
    [
        ({"email_notifications": False}, "failed", False),
        ({"email_on_job_completion": False}, "completed", False),
        ({"email_on_job_completion": False}, "failed", True),
        ({"email_on_job_failure": False}, "failed", False),
        ({"email_on_job_failure": False}, "canceled", False),
        ({"email_on_job_failure": False}, "completed", True),
    ],
)
def test_preferences_filter_by_outcome(prefs, status, told):
    assert bool(plan_deliveries(person(1, **prefs), [], status)) is told


@pytest.mark.parametrize("frequency", ["hourly", "daily"])
def test_frequency_sends_email_to_the_digest(frequency):
    [delivery] = plan_deliveries(person(1, notification_frequency=frequency), [], "failed")
    assert delivery.frequency == frequency


def test_a_corrupt_frequency_falls_back_to_immediate_rather_than_losing_mail():
    [delivery] = plan_deliveries(person(1, notification_frequency="weekly"), [], "failed")
    assert delivery.frequency == "immediate"


def test_slack_and_webhook_are_immediate_and_independent_of_email():
    recipient = person(
        1,
        email_notifications=False,
        notification_frequency="daily",
        slack_webhook_url="https://hooks.slack.test/T/B/x",
        webhook_url="https://example.test/hook",
    )
    assert plan_deliveries(recipient, [], "failed") == [
        Delivery(1, "slack", "https://hooks.slack.test/T/B/x", "immediate"),
        Delivery(1, "webhook", "https://example.test/hook", "immediate"),
    ]
    assert (
        plan_deliveries(person(1, email_on_job_failure=False, webhook_url="https://x.test/"), [], "failed")
        == []
    )
