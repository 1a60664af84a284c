"""The ``batches`` table (made by migration ``0013``): one row per fleet run, with its counters.

The recorder keeps the per-status counts in the same transaction as the children it writes
(``batches/counters.py``), so a batch's progress is one row read at any fleet size.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import ForeignKey, Index, Integer, String, text
from sqlalchemy.orm import Mapped, mapped_column

from netraven_tasks.models import Base, BigId, JSONType, UTCDateTime, partial, utcnow
from netraven_tasks.statuses import JobStatus
from netraven_tasks.teams import models as _team_models  # noqa: F401 - team_id's table


class BatchStatus(StrEnum):
    RUNNING = "running"  # until every child is terminal
    COMPLETED = "completed"  # every child completed
    PARTIAL = "partial"  # some completed, some not
    FAILED = "failed"  # none completed
    CANCELED = "canceled"  # a cancel was asked for before it settled


# One counter column per child status, named as the status.
COUNTED = tuple(status.value for status in JobStatus)
ACTIVE_COUNTERS = ("queued", "running", "retrying")


class Batch(Base):
    """One launch of a job type over the devices a selector resolved to, at launch time."""

    __tablename__ = "batches"
    __table_args__ = (
        Index("ix_batches_owner_created", "owner_id", "created_at"),
        Index("ix_batches_created", "created_at"),
        Index("uq_batches_schedule_slot", "schedule_id", "scheduled_for", unique=True),
        Index("ix_batches_team", "team_id", **partial(text("team_id IS NOT NULL"))),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    job_type: Mapped[str] = mapped_column(String(100))
    status: Mapped[str] = mapped_column(String(16), default=BatchStatus.RUNNING.value)
    total: Mapped[int] = mapped_column(Integer)
    queued: Mapped[int] = mapped_column(Integer, default=0)
    running: Mapped[int] = mapped_column(Integer, default=0)
    retrying: Mapped[int] = mapped_column(Integer, default=0)
    completed: Mapped[int] = mapped_column(Integer, default=0)
    failed: Mapped[int] = mapped_column(Integer, default=0)
    canceled: Mapped[int] = mapped_column(Integer, default=0)
    arguments: Mapped[dict[str, Any]] = mapped_column(JSONType)  # as given, without the device's address
    targets: Mapped[dict[str, Any]] = mapped_column(JSONType)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id", ondelete="SET NULL"))
    schedule_id: Mapped[int | None] = mapped_column(ForeignKey("schedules.id", ondelete="SET NULL"))
    scheduled_for: Mapped[datetime | None] = mapped_column(UTCDateTime)
    rerun_of: Mapped[int | None] = mapped_column(BigId, ForeignKey("batches.id", ondelete="SET NULL"))
    canceled_by: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    def counts(self) -> dict[str, int]:
        return {status: getattr(self, status) for status in COUNTED}
