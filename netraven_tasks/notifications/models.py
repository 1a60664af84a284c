"""Notification tables: the outbox (one row per message to send) and pending digest items.

The schema is made by the Alembic migration ``0002_notifications``.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, BigId, JSONType, UTCDateTime, partial, utcnow
from netraven_tasks.routes import models as _route_models  # noqa: F401 - route_id's table


class OutboxState(StrEnum):
    PENDING = "pending"  # waiting for its first or next attempt
    SENDING = "sending"  # claimed by a sender until claimed_until
    SENT = "sent"
    FAILED = "failed"  # permanently: bad address, rejected URL, too many attempts


class MessageKind(StrEnum):
    JOB = "job"  # one job outcome, sent at once
    DIGEST = "digest"  # a period's summary
    TEST = "test"  # a test a user sent to check a channel (POST /users/me/notifications/test)


class DigestPeriod(StrEnum):
    HOURLY = "hourly"
    DAILY = "daily"


IS_JOB = text("kind = 'job'")
IS_DIGEST = text("kind = 'digest'")
IS_DUE = text("state IN ('pending', 'sending')")
HAS_JOB_LOG = text("job_log_id IS NOT NULL")
HAS_ALERT_KEY = text("alert_key IS NOT NULL")
IS_PENDING_ITEM = text("outbox_id IS NULL")
HAS_BATCH = text("batch_id IS NOT NULL")
HAS_ROUTE = text("route_id IS NOT NULL")


class OutboxMessage(Base):
    """One message to one recipient (or route) on one channel; its unique key makes sending it
    idempotent."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        # (recipient, job, event) for immediate messages, (recipient, period, start) for digests.
        Index(
            "uq_notification_outbox_job",
            "user_id",
            "channel",
            "job_log_id",
            "event",
            unique=True,
            postgresql_where=IS_JOB,
            sqlite_where=IS_JOB,
        ),
        Index(
            "uq_notification_outbox_digest",
            "user_id",
            "channel",
            "period",
            "period_start",
            unique=True,
            postgresql_where=IS_DIGEST,
            sqlite_where=IS_DIGEST,
        ),
        Index(
            "ix_notification_outbox_due",
            "next_attempt_at",
            postgresql_where=IS_DUE,
            sqlite_where=IS_DUE,
        ),
        Index("ix_notification_outbox_user_created", "user_id", "created_at"),
        Index(
            "ix_notification_outbox_job_log_id",
            "job_log_id",
            postgresql_where=HAS_JOB_LOG,
            sqlite_where=HAS_JOB_LOG,
        ),
        # State-change and missed-run alerts: one per (recipient, channel, incident).
        Index(
            "uq_notification_outbox_alert",
            "user_id",
            "channel",
            "alert_key",
            unique=True,
            **partial(HAS_ALERT_KEY),
        ),
        # A route's messages: one per (route, incident event); its delivery history reads it too.
        Index("uq_notification_outbox_route", "route_id", "alert_key", unique=True, **partial(HAS_ROUTE)),
        CheckConstraint(
            "user_id IS NOT NULL OR route_id IS NOT NULL", name="ck_notification_outbox_recipient"
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # The person told, or none for a route's message (``route_id``).
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    channel: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(8))
    job_log_id: Mapped[int | None] = mapped_column(ForeignKey("job_logs.id", ondelete="SET NULL"))
    event: Mapped[str | None] = mapped_column(String(16))
    period: Mapped[str | None] = mapped_column(String(8))
    period_start: Mapped[datetime | None] = mapped_column(UTCDateTime)
    address: Mapped[str] = mapped_column(Text)
    subject: Mapped[str] = mapped_column(Text)
    body_text: Mapped[str] = mapped_column(Text)
    body_html: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    message_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(8), default=OutboxState.PENDING.value)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    next_attempt_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    claim_token: Mapped[str | None] = mapped_column(String(36))
    claimed_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_error: Mapped[str | None] = mapped_column(Text)
    provider_message_id: Mapped[str | None] = mapped_column(String(255))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Schedules: the key of an alert that is no single job's outcome (a missed-run incident).
    alert_key: Mapped[str | None] = mapped_column(String(200))
    # Routes: the shared destination told (``alert_key`` is then the row's key within the route).
    route_id: Mapped[int | None] = mapped_column(
        ForeignKey("routes.id", ondelete="CASCADE", name="fk_notification_outbox_route_id")
    )


class DigestItem(Base):
    """A job outcome, or a finished fleet run (``batch_id``, no job), waiting for the recipient's
    next digest; ``outbox_id`` is set once it is in one."""

    __tablename__ = "notification_digest_items"
    __table_args__ = (
        Index("uq_notification_digest_items", "user_id", "job_log_id", "event", unique=True),
        Index("ix_notification_digest_items_job_log_id", "job_log_id"),  # purges cascade through it
        Index("uq_notification_digest_items_batch", "batch_id", "user_id", unique=True, **partial(HAS_BATCH)),
        Index(
            "ix_notification_digest_items_pending",
            "period",
            "user_id",
            "created_at",
            postgresql_where=IS_PENDING_ITEM,
            sqlite_where=IS_PENDING_ITEM,
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    job_log_id: Mapped[int | None] = mapped_column(ForeignKey("job_logs.id", ondelete="CASCADE"))
    batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("batches.id", ondelete="CASCADE", name="fk_notification_digest_items_batch_id")
    )
    event: Mapped[str] = mapped_column(String(16))
    period: Mapped[str] = mapped_column(String(8))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    outbox_id: Mapped[int | None] = mapped_column(ForeignKey("notification_outbox.id", ondelete="SET NULL"))
