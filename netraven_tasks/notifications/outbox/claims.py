"""Outbox rows out: which are due, the compare-and-set claim, and recording how a send went.

A claim holds for ``CLAIM_LEASE``, so a sender killed mid-send leaves a claim that expires and the
row is sent by the next run. Transient failures are retried with exponential backoff (30 s
doubling to 1 h), permanent ones are recorded and left alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from netraven_tasks.backoff import delay as backoff_delay
from netraven_tasks.notifications.channels.base import OutgoingMessage
from netraven_tasks.notifications.models import OutboxMessage, OutboxState

CLAIM_LEASE = timedelta(minutes=5)  # far longer than one send may take (SMTP timeouts are 30 s)
BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
MAX_ATTEMPTS = 20  # about 15 hours of retries before a message is given up
ERROR_LIMIT = 2_000


def backoff(attempts: int) -> timedelta:
    """How long to wait after the ``attempts``-th failed try: 30 s, 1 min, 2 min, … capped at 1 h."""
    seconds = backoff_delay(attempts, BACKOFF_BASE.total_seconds(), BACKOFF_MAX.total_seconds())
    return timedelta(seconds=seconds)


def _message_columns() -> list[Any]:
    """The outbox columns of an ``OutgoingMessage``, labelled as its fields."""
    row = OutboxMessage
    return [row.channel, row.address, row.subject, row.body_text.label("text"),
            row.body_html.label("html"), row.payload, row.message_id, row.user_id, row.route_id]  # fmt: skip


def _claimable(now: datetime) -> Any:
    return or_(
        and_(OutboxMessage.state == OutboxState.PENDING.value, OutboxMessage.next_attempt_at <= now),
        and_(OutboxMessage.state == OutboxState.SENDING.value, OutboxMessage.claimed_until < now),
    )


def due_ids(
    session: Session, now: datetime, limit: int = 200, only: Sequence[int] | None = None
) -> list[int]:
    """Ids of rows a sender may claim now, oldest first."""
    query = select(OutboxMessage.id).where(_claimable(now), OutboxMessage.attempts < MAX_ATTEMPTS)
    if only is not None:
        query = query.where(OutboxMessage.id.in_(list(only)))
    return list(session.scalars(query.order_by(OutboxMessage.id).limit(limit)))


def claim_message(
    session: Session, message_id: int, now: datetime, lease: timedelta = CLAIM_LEASE
) -> tuple[str, OutgoingMessage] | None:
    """Take the row for sending (compare-and-set) and read what to send in the same statement;
    returns the claim token and the message, or None if the row is not ours to send."""
    token = str(uuid.uuid4())
    row = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, _claimable(now), OutboxMessage.attempts < MAX_ATTEMPTS)
        .values(
            state=OutboxState.SENDING.value,
            claim_token=token,
            claimed_until=now + lease,
            attempts=OutboxMessage.attempts + 1,
        )
        .returning(*_message_columns())
        .execution_options(synchronize_session=False)
    ).one_or_none()
    return None if row is None else (token, OutgoingMessage(**row._asdict()))


def claim(session: Session, message_id: int, now: datetime, lease: timedelta = CLAIM_LEASE) -> str | None:
    """Take the row for sending (compare-and-set); returns the claim token, or None if not ours."""
    claimed = claim_message(session, message_id, now, lease)
    return None if claimed is None else claimed[0]


def mark_sent(session: Session, message_id: int, token: str, provider_message_id: str, now: datetime) -> bool:
    """Record the provider's id; False if our claim was lost (it expired and someone else took it)."""
    result = session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
        .values(
            state=OutboxState.SENT.value,
            provider_message_id=provider_message_id[:255],
            sent_at=now,
            claimed_until=None,
            last_error=None,
        )
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1  # type: ignore[attr-defined]


def mark_failed(
    session: Session, message_id: int, token: str, error: str, *, permanent: bool, now: datetime
) -> str | None:
    """Record a failed try: retry later with backoff, or give up. Returns the new state."""
    attempts = session.scalar(
        select(OutboxMessage.attempts).where(
            OutboxMessage.id == message_id, OutboxMessage.claim_token == token
        )
    )
    if attempts is None:
        return None
    give_up = permanent or attempts >= MAX_ATTEMPTS
    state = OutboxState.FAILED if give_up else OutboxState.PENDING
    session.execute(
        update(OutboxMessage)
        .where(OutboxMessage.id == message_id, OutboxMessage.claim_token == token)
        .values(
            state=state.value,
            last_error=error[:ERROR_LIMIT],
            next_attempt_at=now + backoff(attempts),
            claimed_until=None,
        )
        .execution_options(synchronize_session=False)
    )
    return state.value


def give_up_abandoned(session: Session, now: datetime) -> int:
    """Rows whose every attempt died with its sender (a message that kills workers) are failed."""
    result = session.execute(
        update(OutboxMessage)
        .where(
            OutboxMessage.state == OutboxState.SENDING.value,
            OutboxMessage.claimed_until < now,
            OutboxMessage.attempts >= MAX_ATTEMPTS,
        )
        .values(state=OutboxState.FAILED.value, last_error="gave up: every attempt was interrupted")
        .execution_options(synchronize_session=False)
    )
    return result.rowcount  # type: ignore[attr-defined,no-any-return]


def sent_to(
    session: Session, user_id: int, limit: int = 50, offset: int = 0
) -> tuple[list[OutboxMessage], int]:
    """A page of what was sent to one user, newest first, and how many there are in all
    (for ``GET /users/{user_id}/notifications``)."""
    sent = (OutboxMessage.user_id == user_id) & (OutboxMessage.state == OutboxState.SENT.value)
    query = (
        select(OutboxMessage)
        .where(sent)
        .order_by(OutboxMessage.sent_at.desc(), OutboxMessage.id.desc())
        .limit(limit)
        .offset(offset)
    )
    total = session.scalar(select(func.count()).select_from(OutboxMessage).where(sent)) or 0
    return list(session.scalars(query)), total
