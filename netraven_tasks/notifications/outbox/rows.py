"""Outbox rows in: one per (recipient, channel, job, event) or (recipient, channel, period, start).

Enqueueing is idempotent: a row whose unique key exists already is skipped (``None`` back).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from email.utils import parseaddr
from typing import Any

from sqlalchemy.orm import Session

from netraven_tasks.db import insert
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.models import MessageKind, OutboxMessage, OutboxState


def new_message_id(mail_from: str) -> str:
    """An RFC 5322 Message-ID, fixed when the row is made so every retry carries the same one."""
    domain = parseaddr(mail_from)[1].rpartition("@")[2] or "netraven.localhost"
    return f"<netraven.{uuid.uuid4().hex}@{domain}>"


def _new_row(values: dict[str, Any]) -> dict[str, Any]:
    now = utcnow()
    return {
        "state": OutboxState.PENDING.value,
        "attempts": 0,
        "next_attempt_at": now,
        "created_at": now,
        **values,
    }


def enqueue(session: Session, **values: Any) -> int | None:
    """Insert one outbox row unless its unique key exists; returns the new id or None."""
    statement = (
        insert(session, OutboxMessage)
        .values(**_new_row(values))
        .on_conflict_do_nothing()
        .returning(OutboxMessage.id)
    )
    return session.scalar(statement)


def enqueue_many(session: Session, rows: Sequence[dict[str, Any]]) -> dict[int, int]:
    """Insert many outbox rows in one statement, skipping those whose unique key exists;
    returns ``{user_id: new id}`` of the rows inserted (digests: one row per user)."""
    if not rows:
        return {}
    statement = (
        insert(session, OutboxMessage)
        .values([_new_row(row) for row in rows])
        .on_conflict_do_nothing()
        .returning(OutboxMessage.user_id, OutboxMessage.id)
    )
    inserted = session.execute(statement)
    return {int(user_id): int(outbox_id) for user_id, outbox_id in inserted if user_id is not None}


def enqueue_job_message(
    session: Session,
    *,
    user_id: int,
    channel: str,
    job_log_id: int,
    event: str,
    address: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    payload: dict[str, Any] | None,
    message_id: str,
    next_attempt_at: datetime | None = None,  # quiet hours: not before the window's end
) -> int | None:
    """The one message about (recipient, channel, job, event); None if it was enqueued before."""
    return enqueue(
        session,
        next_attempt_at=next_attempt_at or utcnow(),
        user_id=user_id,
        channel=channel,
        kind=MessageKind.JOB.value,
        job_log_id=job_log_id,
        event=event,
        address=address,
        subject=subject,
        body_text=body_text,
        body_html=body_html,
        payload=payload,
        message_id=message_id,
    )


def digest_message_row(
    *,
    user_id: int,
    period: str,
    period_start: datetime,
    address: str,
    subject: str,
    body_text: str,
    body_html: str | None,
    message_id: str,
) -> dict[str, Any]:
    """The outbox row of the one digest of (recipient, period, start), for ``enqueue_many``."""
    return {
        "user_id": user_id,
        "channel": "email",
        "kind": MessageKind.DIGEST.value,
        "period": period,
        "period_start": period_start,
        "address": address,
        "subject": subject,
        "body_text": body_text,
        "body_html": body_html,
        "message_id": message_id,
    }


def enqueue_digest_message(session: Session, **values: Any) -> int | None:
    """The one digest of (recipient, period, start); None if that digest exists already."""
    return enqueue(session, **digest_message_row(**values))
