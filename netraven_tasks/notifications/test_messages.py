"""A test message on one channel, so a user can check a channel works before relying on it.

The test goes the way a real alert goes: an outbox row (kind ``test``) for the channel's address
from the user's saved preferences, sent by the worker's delivery with its retries, SSRF checks
and history. A user may send ``TESTS_PER_WINDOW`` tests per ``TEST_WINDOW`` (counted on the
outbox rows, so every API process sees the same count).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.models import User
from netraven_tasks.notifications.alerting import message_values
from netraven_tasks.notifications.channels.registry import channel, channels
from netraven_tasks.notifications.channels.spec import ChannelSpec, MessageSource
from netraven_tasks.notifications.models import MessageKind, OutboxMessage
from netraven_tasks.notifications.outbox import enqueue, new_message_id
from netraven_tasks.notifications.planning import as_recipient
from netraven_tasks.notifications.rendering import Renderer
from netraven_tasks.preferences import effective_preferences
from netraven_tasks.quotas import QuotaExceeded
from netraven_tasks.settings import Settings

TESTS_PER_WINDOW = 5
TEST_WINDOW = timedelta(minutes=10)
TEST_EVENT = "test"


class ChannelNotReady(ValueError):
    """The channel cannot be tested: unknown, not set up by the user, or not configured here."""

    field = "channel"


def title_of(spec: ChannelSpec) -> str:
    return spec.title or spec.name.capitalize()


def testable_channels() -> list[ChannelSpec]:
    """The channels a person can have (and so test): those with personal preferences."""
    return [spec for spec in channels() if spec.preferences]


def _spec(name: str, settings: Settings) -> ChannelSpec:
    spec = channel(name)
    if spec is None or spec not in testable_channels():
        known = ", ".join(s.name for s in testable_channels())
        raise ChannelNotReady(f"unknown channel {name[:40]!r}; one of {known}")
    if spec.transport(settings) is None:
        raise ChannelNotReady(f"{title_of(spec)} is not configured on this server; ask an administrator")
    return spec


def _check_rate(session: Session, user_id: int, now: datetime) -> None:
    since = now - TEST_WINDOW
    recent = session.scalars(
        select(OutboxMessage.created_at)
        .where(
            OutboxMessage.user_id == user_id,
            OutboxMessage.kind == MessageKind.TEST.value,
            OutboxMessage.created_at > since,
        )
        .order_by(OutboxMessage.created_at)
    ).all()
    if len(recent) >= TESTS_PER_WINDOW:
        retry_after = max(1, int((recent[-TESTS_PER_WINDOW] + TEST_WINDOW - now).total_seconds()) + 1)
        raise QuotaExceeded(
            f"at most {TESTS_PER_WINDOW} test messages per {int(TEST_WINDOW.total_seconds() // 60)} "
            f"minutes; try again in {retry_after} s",
            retry_after,
        )


def send_test(
    session: Session, user: User, channel_name: str, settings: Settings, renderer: Renderer, now: datetime
) -> OutboxMessage:
    """Enqueue one test message to ``user`` on ``channel_name`` (in the caller's transaction);
    the caller commits and wakes delivery."""
    spec = _spec(channel_name, settings)
    recipient = as_recipient(user)
    delivery = spec.test_delivery(recipient, effective_preferences(recipient.preferences))
    if delivery is None:
        raise ChannelNotReady(f"{title_of(spec)} is not set up in your preferences: save its address first")
    _check_rate(session, user.id, now)
    link = f"{renderer.public_url.rstrip('/')}/ui/preferences"
    headline = f"test message on {title_of(spec)}"
    lines = [f"Sent by {user.username} from the notification preferences.", "Nothing needs doing."]
    rendered = renderer.alert(headline, lines, link)
    payload = {"event": TEST_EVENT, "headline": headline, "lines": lines, "url": link}
    values = message_values(delivery, MessageSource(rendered, payload, public_url=renderer.public_url))
    outbox_id = enqueue(
        session,
        kind=MessageKind.TEST.value,
        event=TEST_EVENT,
        message_id=new_message_id(settings.mail_from),
        next_attempt_at=now,
        **values,
    )
    message = session.get(OutboxMessage, outbox_id)
    assert message is not None  # a test row has no unique key to collide with
    return message


def message_of(session: Session, user_id: int, message_id: int) -> OutboxMessage | None:
    """One outbox row of ``user_id`` (any kind, any state), or None."""
    message = session.get(OutboxMessage, message_id)
    return message if message is not None and message.user_id == user_id else None
