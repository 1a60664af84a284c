"""A scheduled run's queued row, written before its message is published.

The unique key (schedule_id, scheduled_for) is the run's identity: whichever beat gets there
first inserts it, any other (or the same one after a restart) finds it taken and publishes nothing.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from netraven_tasks.db import insert
from netraven_tasks.models import JobLog, JobLogEntry, utcnow
from netraven_tasks.statuses import JobStatus


class SlotTaken(Exception):
    """The run of this schedule and slot exists already: it was launched before."""


def insert_scheduled_row(
    session: Session,
    *,
    task_id: str,
    job_type: str,
    device: str | None,
    owner_id: int | None,
    args: dict[str, Any],
    schedule_id: int,
    slot: datetime,
    team_id: int | None = None,
) -> int:
    """Insert the queued row of (schedule, slot); raises SlotTaken if it is there already."""
    now = utcnow()
    statement = (
        insert(session, JobLog)
        .values(
            task_id=task_id,
            job_type=job_type,
            device=device,
            owner_id=owner_id,
            args=args,
            status=JobStatus.QUEUED.value,
            attempts=0,
            celery_retries=0,
            queued_at=now,
            updated_at=now,
            schedule_id=schedule_id,
            scheduled_for=slot,
            team_id=team_id,
        )
        .on_conflict_do_nothing(index_elements=["schedule_id", "scheduled_for"])
        .returning(JobLog.id)
    )
    job_log_id = session.scalar(statement)
    if job_log_id is None:
        raise SlotTaken(f"schedule {schedule_id} has a run for {slot.isoformat()} already")
    session.add(
        JobLogEntry(
            job_log_id=job_log_id,
            at=now,
            level="info",
            event="queued",
            message=f"queued by schedule {schedule_id} for {slot.isoformat()}",
            details={"schedule_id": schedule_id, "scheduled_for": slot.isoformat(), "device": device},
        )
    )
    return int(job_log_id)
