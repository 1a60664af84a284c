"""Slack and generic webhooks against a real HTTP server on loopback, and the SSRF guard."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.notifications import tasks
from netraven_tasks.notifications.channels.base import OutgoingMessage, TransportError
from netraven_tasks.notifications.channels.slack import SlackChannel
from netraven_tasks.notifications.channels.webhook import (
    DELIVERY_HEADER,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookChannel,
    signing_key,
    verify,
)
from netraven_tasks.notifications.planning import alert_repeat, plan_job_notifications
from netraven_tasks.notifications.url_safety import UnsafeURL, check_webhook_url
from tests.conftest import eventually
from tests.notifications.conftest import insert_failed_jobs

pytestmark = pytest.mark.usefixtures("clean_db")


def test_slack_and_webhook_get_the_job_outcome_through_the_worker(
    settings, worker, wait_for_job, mail, make_user, http_receiver, outbox
):
    user = make_user(
        "sam",
        email_notifications=False,
        slack_webhook_url=http_receiver.url("/slack"),
        webhook_url=http_receiver.url("/hook"),
    )
    launched = launch_job(settings, "test_broken", {"host": "core-<sw>-01"}, user)
    wait_for_job(launched.job_log_id)
    requests = {r["path"]: r for r in http_receiver.wait_for(2)}
    assert mail.received == []

    slack = requests["/slack"]["json"]
    assert slack["text"] == "NetRaven job failed: test_broken on core-&lt;sw&gt;-01"
    section = slack["blocks"][0]["text"]["text"]
    assert "ValueError: template for core-&lt;sw&gt;-01 is invalid" in section
    assert f"http://127.0.0.1:8000/ui/job-logs/{launched.job_log_id}|Open job" in section

    hook = requests["/hook"]
    body, headers = hook["json"], hook["headers"]
    assert body["event"] == "job.failed" and body["device"] == "core-<sw>-01"
    assert body["error_type"] == "ValueError" and body["job_log_id"] == launched.job_log_id
    key = signing_key(settings.secret_key, user)
    assert verify(key, headers[TIMESTAMP_HEADER.lower()], hook["raw"], headers[SIGNATURE_HEADER.lower()])
    assert not verify(
        signing_key(settings.secret_key, user + 1),
        headers[TIMESTAMP_HEADER.lower()],
        hook["raw"],
        headers[SIGNATURE_HEADER.lower()],
    )
    eventually(lambda: {r.state for r in outbox(user)} == {"sent"}, message="both rows sent")
    rows = {r.channel: r for r in outbox(user)}
    assert headers[DELIVERY_HEADER.lower()] == rows["webhook"].message_id
    assert set(rows) == {"slack", "webhook"}


def test_webhook_5xx_is_retried_and_delivered_once_4xx_is_permanent(
    settings, wait_for_job, make_user, http_receiver, outbox
):
    retry_user = make_user("rita", email_notifications=False, webhook_url=http_receiver.url("/flaky"))
    gone_user = make_user("gus", email_notifications=False, slack_webhook_url=http_receiver.url("/gone"))
    with session_factory(settings).begin() as session:
        for owner in (retry_user, gone_user):
            [job_id] = insert_failed_jobs(settings, owner, 1)
            plan_job_notifications(
                session, job_id, tasks.renderer(settings), settings.mail_from, alert_repeat(settings)
            )
    http_receiver.statuses = [503, 404]
    assert tasks.deliver_outbox() == {"sent": 0, "retrying": 1, "failed": 1, "skipped": 0}
    [flaky] = outbox(retry_user)
    [gone] = outbox(gone_user)
    assert flaky.state == "pending" and flaky.last_error.startswith("HTTP 503")
    assert gone.state == "failed" and gone.last_error.startswith("HTTP 404")

    assert tasks.deliver_outbox() == {"sent": 0, "retrying": 0, "failed": 0, "skipped": 0}  # backing off
    later = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert tasks.deliver_outbox(now=later)["sent"] == 1
    assert tasks.deliver_outbox(now=later)["sent"] == 0
    assert [r["status"] for r in http_receiver.requests] == [503, 404, 200]


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:9/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[::ffff:127.0.0.1]/hook",
        "http://0.0.0.0/hook",
        "file:///etc/passwd",
        "gopher://example.com/",
        "http://user:secret@example.com/hook",
    ],
)
def test_private_or_odd_urls_are_refused(url):
    with pytest.raises(UnsafeURL):
        check_webhook_url(url, allow_private=False)


@pytest.mark.parametrize("channel", ["slack", "webhook"])
def test_channels_refuse_private_targets_permanently_without_connecting(http_receiver, channel):
    sender = (
        SlackChannel(allow_private=False)
        if channel == "slack"
        else WebhookChannel(lambda _: b"k" * 32, allow_private=False)
    )
    message = OutgoingMessage(
        channel=channel, address=http_receiver.url("/x"), subject="s", text="t", payload={}, user_id=1
    )
    with pytest.raises(TransportError) as raised:
        sender.send(message)
    assert raised.value.permanent and "is not allowed" in raised.value.message
    assert http_receiver.requests == []


def test_redirects_are_not_followed(http_receiver):
    http_receiver.statuses = [302]
    message = OutgoingMessage(channel="slack", address=http_receiver.url("/r"), subject="s", text="t")
    with pytest.raises(TransportError) as raised:
        SlackChannel(allow_private=True).send(message)
    assert raised.value.permanent and "redirects are not followed" in raised.value.message
    assert len(http_receiver.requests) == 1
