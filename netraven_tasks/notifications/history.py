"""What a user was told, and what maintenance windows held back from them, in one list.

``GET /users/{user_id}/notifications`` pages through both, newest first: sent outbox rows by
``sent_at``, suppressed records by when they were recorded.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, literal, select, union_all
from sqlalchemy.orm import Session

from netraven_tasks.maintenance.models import SuppressedNotification
from netraven_tasks.maintenance.suppression import SuppressedItem, suppressed_by_ids
from netraven_tasks.notifications.models import MessageKind, OutboxMessage, OutboxState

SENT, SUPPRESSED = "sent", "suppressed"


@dataclass(frozen=True)
class HistoryItem:
    """One line of a user's notification history: a sent message or a suppressed one."""

    id: int
    state: str  # sent | suppressed
    channel: str | None
    kind: str
    job_log_id: int | None
    event: str | None
    period: str | None
    period_start: datetime | None
    address: str | None
    subject: str
    attempts: int
    sent_at: datetime | None
    provider_message_id: str | None
    maintenance_window_id: int | None = None
    suppressed_at: datetime | None = None

    @classmethod
    def sent(cls, row: OutboxMessage) -> HistoryItem:
        return cls(
            id=row.id, state=SENT, channel=row.channel, kind=row.kind, job_log_id=row.job_log_id,
            event=row.event, period=row.period, period_start=row.period_start, address=row.address,
            subject=row.subject, attempts=row.attempts, sent_at=row.sent_at,
            provider_message_id=row.provider_message_id,
        )  # fmt: skip

    @classmethod
    def suppressed(cls, item: SuppressedItem) -> HistoryItem:
        about = f"run {item.job_log_id}" if item.job_log_id else f"schedule {item.schedule_id}"
        subject = (
            f"{item.event} about {about} suppressed by maintenance window #{item.window_id}: "
            f"{item.reason or 'no reason given'}"
        )
        return cls(
            id=item.id, state=SUPPRESSED, channel=None, kind=MessageKind.JOB.value,
            job_log_id=item.job_log_id, event=item.event, period=None, period_start=None, address=None,
            subject=subject, attempts=0, sent_at=None, provider_message_id=None,
            maintenance_window_id=item.window_id, suppressed_at=item.at,
        )  # fmt: skip


def notification_history(
    session: Session, user_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[HistoryItem], int]:
    """A page of the user's sent and suppressed notifications, newest first, and how many in all."""
    sent = select(
        literal(SENT).label("state"), OutboxMessage.id.label("id"), OutboxMessage.sent_at.label("at")
    ).where(OutboxMessage.user_id == user_id, OutboxMessage.state == OutboxState.SENT.value)
    held = select(
        literal(SUPPRESSED).label("state"),
        SuppressedNotification.id.label("id"),
        SuppressedNotification.at.label("at"),
    ).where(SuppressedNotification.user_id == user_id)
    both = union_all(sent, held).subquery()
    total = session.scalar(select(func.count()).select_from(both)) or 0
    page = session.execute(
        select(both.c.state, both.c.id)
        .order_by(both.c.at.desc(), both.c.id.desc())
        .limit(limit)
        .offset(offset)
    ).all()
    sent_ids = [int(row.id) for row in page if row.state == SENT]
    rows = {
        row.id: row for row in session.scalars(select(OutboxMessage).where(OutboxMessage.id.in_(sent_ids)))
    }
    held_items = suppressed_by_ids(session, [int(row.id) for row in page if row.state == SUPPRESSED])
    return [
        HistoryItem.sent(rows[int(row.id)])
        if row.state == SENT
        else HistoryItem.suppressed(held_items[int(row.id)])
        for row in page
    ], total
