"""Tables of maintenance windows, the messages they suppressed and the slots they skipped
(made by migration ``0024``)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, BigId, JSONType, UTCDateTime, partial, utcnow
from netraven_tasks.schedules import models as _schedule_models  # noqa: F401 - schedule_id's table

UNHANDLED = text("ended_handled_at IS NULL")
HAS_JOB_LOG = text("job_log_id IS NOT NULL")
WHOLE_SLOT = text("device IS NULL")
ONE_DEVICE = text("device IS NOT NULL")


class MaintenanceWindow(Base):
    """A span of time in which what ``match`` covers is under planned work.

    ``match`` is ``{"devices", "sites", "tags", "schedule_ids"}`` (lists; any one matching is
    enough). ``ended_handled_at`` is set, once, by the task that tells who is still failing."""

    __tablename__ = "maintenance_windows"
    __table_args__ = (
        # "Which windows are open at t": few rows, read by every notification plan.
        Index("ix_maintenance_windows_span", "starts_at", "ends_at"),
        Index("ix_maintenance_windows_unhandled", "ends_at", **partial(UNHANDLED)),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    starts_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ends_at: Mapped[datetime] = mapped_column(UTCDateTime)
    match: Mapped[dict[str, Any]] = mapped_column(JSONType)
    skip_runs: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str] = mapped_column(Text, default="")
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    ended_handled_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class SuppressedNotification(Base):
    """One message a window held back: an alert or outcome message for one recipient (a user, or a
    route by its id) and event. ``record_key`` makes recording it idempotent."""

    __tablename__ = "suppressed_notifications"
    __table_args__ = (
        Index("ix_suppressed_notifications_window", "window_id", "event"),
        Index("ix_suppressed_notifications_job_log", "job_log_id", **partial(HAS_JOB_LOG)),
        Index("ix_suppressed_notifications_user_at", "user_id", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id", ondelete="CASCADE"))
    job_log_id: Mapped[int | None] = mapped_column(ForeignKey("job_logs.id", ondelete="CASCADE"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    device: Mapped[str | None] = mapped_column(String(255))
    event: Mapped[str] = mapped_column(String(16))
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    route_id: Mapped[int | None] = mapped_column(Integer)  # routes are not ours: no foreign key
    record_key: Mapped[str] = mapped_column(String(400), unique=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SkippedSlot(Base):
    """A schedule's slot not launched because a ``skip_runs`` window covered it: the whole slot
    (``device`` NULL) or, for a fleet schedule, one device left out of the slot's batch."""

    __tablename__ = "skipped_slots"
    __table_args__ = (
        Index("uq_skipped_slots_slot", "schedule_id", "scheduled_for", unique=True, **partial(WHOLE_SLOT)),
        Index(
            "uq_skipped_slots_device",
            "schedule_id",
            "scheduled_for",
            "device",
            unique=True,
            **partial(ONE_DEVICE),
        ),
        Index("ix_skipped_slots_window", "window_id"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    window_id: Mapped[int] = mapped_column(ForeignKey("maintenance_windows.id", ondelete="CASCADE"))
    schedule_id: Mapped[int] = mapped_column(ForeignKey("schedules.id", ondelete="CASCADE"))
    scheduled_for: Mapped[datetime] = mapped_column(UTCDateTime)
    device: Mapped[str | None] = mapped_column(String(255))
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
