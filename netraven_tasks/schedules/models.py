"""Tables of schedules, state-change streaks and the in-app inbox (made by migration ``0006``)."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, text
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, BigId, JSONType, UTCDateTime, partial, utcnow
from netraven_tasks.teams import models as _team_models  # noqa: F401 - team_id's table


class WatchState(StrEnum):
    """What the missed-run check last concluded about a schedule's slots."""

    OK = "ok"
    LATE = "late"  # the slot's run has not started by slot + grace
    MISSED = "missed"  # ... and the next slot has passed too


class Schedule(Base):
    """A job type with arguments, launched at every slot of an interval or a cron expression."""

    __tablename__ = "schedules"
    __table_args__ = (
        Index("ix_schedules_owner", "owner_id"),
        Index("ix_schedules_team", "team_id", **partial(text("team_id IS NOT NULL"))),
        Index(
            "ix_schedules_due", "next_run_at", postgresql_where=text("enabled"), sqlite_where=text("enabled")
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    owner_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    job_type: Mapped[str] = mapped_column(String(100))
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONType)
    # A device selector: each slot launches one batch over what it selects then (migration 0013).
    targets: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    interval_seconds: Mapped[int | None] = mapped_column(Integer)
    cron: Mapped[str | None] = mapped_column(String(100))
    timezone: Mapped[str] = mapped_column(String(64), default="UTC")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)
    paused_reason: Mapped[str | None] = mapped_column(String(200))  # why the system paused it (0011)
    grace_seconds: Mapped[int] = mapped_column(Integer)
    description: Mapped[str | None] = mapped_column(Text)
    next_run_at: Mapped[datetime] = mapped_column(UTCDateTime)  # the next slot beat launches
    slots_from: Mapped[datetime] = mapped_column(UTCDateTime)  # first slot of the current timing
    watch_state: Mapped[str] = mapped_column(String(8), default=WatchState.OK.value)
    incident_slot: Mapped[datetime | None] = mapped_column(UTCDateTime)  # first slot of an open incident
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class AlertStreak(Base):
    """The last outcome of one alert scope (a schedule, or owner + job type + device) and its streak."""

    __tablename__ = "alert_streaks"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    scope: Mapped[str] = mapped_column(String(400), unique=True)
    status: Mapped[str] = mapped_column(String(16))
    failing_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    failures: Mapped[int] = mapped_column(Integer, default=0)
    last_alert_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_job_log_id: Mapped[int | None] = mapped_column(BigId)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class InboxItem(Base):
    """One in-app notification of one user; ``message_id`` is its outbox message's (sent once)."""

    __tablename__ = "inbox_items"
    __table_args__ = (Index("ix_inbox_items_user", "user_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    message_id: Mapped[str] = mapped_column(String(255), unique=True)
    event: Mapped[str | None] = mapped_column(String(16))
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    link: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
