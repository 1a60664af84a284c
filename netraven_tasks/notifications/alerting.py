"""Alerts into the outbox: one message per channel the recipient has, at once or after quiet hours.

An alert is about a change (a first failure, a recovery, a streak still failing, a missed run),
not about every outcome. Its outbox key is (recipient, channel, job, event) when it is about one
run, or (recipient, channel, ``alert_key``) when it is not (a missed-run incident).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from netraven_tasks.notifications.channels.registry import channel
from netraven_tasks.notifications.channels.spec import MessageSource
from netraven_tasks.notifications.models import MessageKind
from netraven_tasks.notifications.outbox import enqueue, new_message_id
from netraven_tasks.notifications.quiet_hours import hold_until
from netraven_tasks.notifications.recipients import Delivery, Recipient, alert_deliveries
from netraven_tasks.notifications.rendering import RenderedMessage, Renderer
from netraven_tasks.preferences import effective_preferences

URGENT = frozenset({"failed", "still_failing", "missed"})


@dataclass(frozen=True)
class Alert:
    event: str  # failed | still_failing | recovered | missed
    headline: str
    lines: Sequence[str]
    link: str
    job_type: str | None = None
    job_log_id: int | None = None
    alert_key: str | None = None
    rendered: RenderedMessage | None = None  # a first failure reuses the job outcome's message
    payload: dict[str, Any] | None = None  # the webhook body (defaults to the alert's fields)


def message_values(delivery: Delivery, source: MessageSource) -> dict[str, Any]:
    """The channel-specific parts of an outbox row, as the delivery's channel declares them."""
    spec = channel(delivery.channel)
    if spec is None:
        raise LookupError(f"no channel {delivery.channel!r} is registered")
    return spec.message_values(delivery, source)


def email_hold(
    recipient: Recipient, delivery: Delivery, now: datetime, *, job_type: str | None, event: str
) -> datetime:
    """When the row is due: quiet hours hold immediate email only (not machines, SMS or the inbox)."""
    spec = channel(delivery.channel)
    if spec is None or not spec.held_in_quiet_hours:
        return now
    prefs = effective_preferences(recipient.preferences)
    return hold_until(prefs, now, job_type=job_type, urgent=event in URGENT) or now


def alert_source(alert: Alert, renderer: Renderer) -> MessageSource:
    """What every channel's message about ``alert`` is made of (a person's or a route's)."""
    rendered = alert.rendered or renderer.alert(alert.headline, alert.lines, alert.link)
    payload = alert.payload or {
        "event": f"alert.{alert.event}",
        "headline": alert.headline,
        "lines": list(alert.lines),
        "url": alert.link,
        "job_log_id": alert.job_log_id,
    }
    return MessageSource(rendered, payload, public_url=renderer.public_url)


def enqueue_alert(
    session: Session, recipient: Recipient, alert: Alert, renderer: Renderer, mail_from: str, now: datetime
) -> list[int]:
    """Enqueue the alert for one recipient; returns the new outbox ids (none if enqueued before)."""
    source = alert_source(alert, renderer)
    ids = []
    for delivery in alert_deliveries(recipient, alert.event):
        outbox_id = enqueue(
            session,
            kind=MessageKind.JOB.value,
            job_log_id=alert.job_log_id,
            event=alert.event,
            alert_key=alert.alert_key,
            message_id=new_message_id(mail_from),
            next_attempt_at=email_hold(recipient, delivery, now, job_type=alert.job_type, event=alert.event),
            **message_values(delivery, source),
        )
        if outbox_id is not None:
            ids.append(outbox_id)
    return ids
