"""The database model: users, job runs and their entries (SQLAlchemy 2, typed).

The schema itself is made only by the Alembic migrations in ``netraven_tasks/migrations``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    TypeDecorator,
    text,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Dialect
from sqlalchemy.ext.mutable import MutableDict
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship
from sqlalchemy.sql.elements import TextClause

JSONType = JSON().with_variant(JSONB(), "postgresql")
# BIGINT primary keys on PostgreSQL; SQLite only autoincrements INTEGER PRIMARY KEY.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite hands back naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given; use an aware UTC datetime")
        value = value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    pass


def partial(where: TextClause) -> dict[str, Any]:
    """The options of a partial index, the same on PostgreSQL and SQLite."""
    return {"postgresql_where": where, "sqlite_where": where}


# Rows the active list and the reaper read: a partial index keeps them small at any history size.
ACTIVE = text("status IN ('queued', 'running', 'retrying')")


class User(Base):
    __tablename__ = "users"
    __table_args__ = (
        Index("ix_users_notification_preferences", "notification_preferences", postgresql_using="gin"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(150), unique=True)
    email: Mapped[str] = mapped_column(String(320))
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_admin: Mapped[bool] = mapped_column(Boolean, default=False)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    # What the user changed; readers see it over the channels' defaults (effective_preferences), so a
    # row made without any (a test's, a script's) reads as the defaults. create_user stores them all.
    notification_preferences: Mapped[dict[str, Any]] = mapped_column(
        MutableDict.as_mutable(JSONType), default=dict
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # security: tokens issued before this instant are refused (password change, deactivation)
    tokens_valid_after: Mapped[datetime | None] = mapped_column(UTCDateTime)


class JobLog(Base):
    """One job run: the logical job across all its attempts."""

    __tablename__ = "job_logs"
    __table_args__ = (
        Index("ix_job_logs_queued_at", "queued_at"),
        Index("ix_job_logs_owner_queued_at", "owner_id", "queued_at"),
        Index("ix_job_logs_job_type_queued_at", "job_type", "queued_at"),
        Index("ix_job_logs_device_queued_at", "device", "queued_at"),
        Index("ix_job_logs_updated_at", "updated_at"),  # rollups find changed hours through it
        Index("ix_job_logs_active", "status", "queued_at", postgresql_where=ACTIVE, sqlite_where=ACTIVE),
        Index(
            "ix_job_logs_active_queued_at", "queued_at", "id", postgresql_where=ACTIVE, sqlite_where=ACTIVE
        ),
        Index("uq_job_logs_schedule_slot", "schedule_id", "scheduled_for", unique=True),
        # Deleting a job log sets its re-runs' rerun_of to NULL: found through this, not a scan.
        Index("ix_job_logs_rerun_of", "rerun_of", **partial(text("rerun_of IS NOT NULL"))),
        Index("ix_job_logs_batch_status", "batch_id", "status", **partial(text("batch_id IS NOT NULL"))),
        Index("ix_job_logs_team", "team_id", **partial(text("team_id IS NOT NULL"))),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    task_id: Mapped[str] = mapped_column(String(64), unique=True)
    job_type: Mapped[str] = mapped_column(String(100))
    device: Mapped[str | None] = mapped_column(String(255))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    status: Mapped[str] = mapped_column(String(16))
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    # Celery's request.retries of the attempt now current: events from older attempts are stale.
    celery_retries: Mapped[int] = mapped_column(Integer, default=0)
    args: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    queued_at: Mapped[datetime] = mapped_column(UTCDateTime)
    started_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    next_retry_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    duration_seconds: Mapped[float | None] = mapped_column(Float)
    result: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    error_type: Mapped[str | None] = mapped_column(String(255))
    error_message: Mapped[str | None] = mapped_column(Text)
    worker: Mapped[str | None] = mapped_column(String(255))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    # Dashboard actions: the run a re-run repeats, and who asked to cancel this one.
    rerun_of: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("job_logs.id", ondelete="SET NULL", name="fk_job_logs_rerun_of")
    )
    canceled_by: Mapped[int | None] = mapped_column(
        ForeignKey("users.id", ondelete="SET NULL", name="fk_job_logs_canceled_by")
    )
    # Schedules: the run's identity is (schedule_id, scheduled_for), unique (migration 0006).
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Deadlines: renewed by the running attempt's worker (tracking/deadlines.py, migration 0010).
    deadline_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Fleet runs: the batch this run is one device of (netraven_tasks/batches, migration 0013).
    batch_id: Mapped[int | None] = mapped_column(
        BigId, ForeignKey("batches.id", ondelete="SET NULL", name="fk_job_logs_batch_id")
    )

    entries: Mapped[list[JobLogEntry]] = relationship(
        back_populates="job_log", order_by="JobLogEntry.id", cascade="all, delete-orphan"
    )
    owner: Mapped[User | None] = relationship(foreign_keys=[owner_id])


class JobLogEntry(Base):
    """One thing that happened to a job run: a transition, an attempt, an error."""

    __tablename__ = "job_log_entries"
    __table_args__ = (Index("ix_job_log_entries_job_log_id", "job_log_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_log_id: Mapped[int] = mapped_column(ForeignKey("job_logs.id", ondelete="CASCADE"))
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    level: Mapped[str] = mapped_column(String(10))
    event: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    details: Mapped[dict[str, Any] | None] = mapped_column(JSONType)

    job_log: Mapped[JobLog] = relationship(back_populates="entries")


# --- tracking: leadership fences (tracking/fencing.py) ---


class TrackingFence(Base):
    """The newest leader's token of one tracking stream and the last entry it committed."""

    __tablename__ = "tracking_fences"

    stream: Mapped[str] = mapped_column(String(200), primary_key=True)
    token: Mapped[int] = mapped_column(BigInteger)
    last_entry: Mapped[str | None] = mapped_column(String(48))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
