"""Outbox claims on the real database: one winner per claim, stale claims expire, backoff, give-up."""

from __future__ import annotations

from datetime import timedelta

import pytest

from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.notifications import outbox as ob
from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.models import OutboxMessage

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def sessions(settings):  # type: ignore[no-untyped-def]
    return session_factory(settings)


@pytest.fixture
def message_id(sessions, make_user) -> int:  # type: ignore[no-untyped-def]
    user = make_user("olly")
    with sessions.begin() as session:
        return ob.enqueue_digest_message(
            session,
            user_id=user,
            period="hourly",
            period_start=utcnow().replace(minute=0, second=0, microsecond=0),
            address="olly@example.test",
            subject="s",
            body_text="t",
            body_html=None,
            message_id="<m@x>",
        )


class Recording(Channel):
    name = "email"

    def __init__(self, *failures: TransportError):
        self.failures = list(failures)
        self.sent: list[OutgoingMessage] = []

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        if self.failures:
            raise self.failures.pop(0)
        self.sent.append(message)
        return DeliveryResult(f"id-{len(self.sent)}")


def _row(sessions, message_id: int) -> OutboxMessage:  # type: ignore[no-untyped-def]
    with sessions() as session:
        return session.get(OutboxMessage, message_id)


def test_the_same_key_is_enqueued_once(sessions, message_id):
    row = _row(sessions, message_id)
    with sessions.begin() as session:
        again = ob.enqueue_digest_message(
            session, user_id=row.user_id, period="hourly", period_start=row.period_start,
            address="x@example.test", subject="other", body_text="t", body_html=None, message_id="<n@x>",
        )  # fmt: skip
    assert again is None


def test_only_one_claim_wins_and_a_stale_claim_can_be_taken_again(sessions, message_id):
    now = utcnow()
    with sessions.begin() as session:
        first = ob.claim(session, message_id, now)
    with sessions.begin() as session:
        assert ob.claim(session, message_id, now + timedelta(minutes=1)) is None
    with sessions.begin() as session:
        second = ob.claim(session, message_id, now + ob.CLAIM_LEASE + timedelta(seconds=1))
    assert first and second and first != second
    with sessions.begin() as session:
        assert ob.mark_sent(session, message_id, first, "late", now) is False  # lost its claim
        assert ob.mark_sent(session, message_id, second, "queued as 1", now) is True
    row = _row(sessions, message_id)
    assert (row.state, row.provider_message_id, row.attempts) == ("sent", "queued as 1", 2)
    with sessions() as session:
        rows, total = ob.sent_to(session, row.user_id)
        assert [m.id for m in rows] == [message_id] and total == 1
        assert ob.sent_to(session, row.user_id + 1) == ([], 0)
    with sessions.begin() as session:
        assert ob.claim(session, message_id, now + timedelta(days=1)) is None  # sent is final


def test_transient_failure_backs_off_then_delivers(sessions, message_id):
    channel = Recording(TransportError("451 try later"))
    report = ob.deliver_due(sessions, {"email": channel})
    assert report.as_dict() == {"sent": 0, "retrying": 1, "failed": 0, "skipped": 0}
    row = _row(sessions, message_id)
    assert row.state == "pending" and row.last_error == "451 try later"
    assert row.next_attempt_at - utcnow() > timedelta(seconds=25)
    assert ob.deliver_due(sessions, {"email": channel}).sent == []  # not yet due
    report = ob.deliver_due(sessions, {"email": channel}, now=utcnow() + timedelta(minutes=1))
    assert report.sent == [message_id] and len(channel.sent) == 1
    assert _row(sessions, message_id).provider_message_id == "id-1"


def test_permanent_failure_is_recorded_and_never_retried(sessions, message_id):
    channel = Recording(TransportError("550 no such mailbox", permanent=True))
    assert ob.deliver_due(sessions, {"email": channel}).failed == [message_id]
    assert (
        ob.deliver_due(sessions, {"email": channel}, now=utcnow() + timedelta(days=2)).as_dict()["sent"] == 0
    )
    row = _row(sessions, message_id)
    assert row.state == "failed" and row.last_error == "550 no such mailbox" and channel.sent == []


def test_gives_up_after_max_attempts(sessions, message_id):
    with sessions.begin() as session:
        session.get(OutboxMessage, message_id).attempts = ob.MAX_ATTEMPTS - 1
    ob.deliver_due(sessions, {"email": Recording(TransportError("timeout"))})
    assert _row(sessions, message_id).state == "failed"


def test_unexpected_errors_keep_the_message_for_a_retry(sessions, message_id):
    class Broken(Channel):
        name = "email"

        def send(self, message: OutgoingMessage) -> DeliveryResult:
            raise RuntimeError("bug")

    assert ob.deliver_due(sessions, {"email": Broken()}).retrying == [message_id]
    assert _row(sessions, message_id).last_error == "RuntimeError: bug"


def test_backoff_doubles_up_to_an_hour():
    assert [ob.backoff(n).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert ob.backoff(12) == timedelta(hours=1)
