"""The reaper: settles job runs whose worker vanished, so no row stays active forever.

A running attempt's worker renews its deadline (``tracking/deadlines.py``); a row still
``running`` after its deadline lost its worker, however long the job may legitimately run. A
row ``retrying`` well after its retry was due lost the worker that held the retry: it waits the
broker's redelivery time first, since the broker hands such a message to another worker then.
A row still ``queued`` after the grace period whose message nothing holds lost its message.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import JobStatus
from netraven_tasks.tracking.deadlines import deadline_passed
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.published import BrokerInventory


@dataclass(frozen=True)
class ReaperHorizons:
    """How long the reaper waits, in seconds, all from the settings (nothing copied here)."""

    deadline: float  # a running attempt's deadline: last heartbeat (or start) + this
    redelivery: float  # the broker's visibility timeout, which a retry held by a dead worker waits
    grace: float  # a queued or retrying row's extra patience

    @classmethod
    def of(cls, settings: Settings) -> ReaperHorizons:
        return cls(settings.deadline_seconds, settings.redelivery_seconds, settings.reaper_grace_seconds)


def _reaped(task_id: str, job_type: str, now: datetime, error_type: str, reason: str) -> TrackingEvent:
    return TrackingEvent(
        kind=EventKind.REAPED, task_id=task_id, job_type=job_type, at=now, error_type=error_type,
        error_message=reason,
    )  # fmt: skip


def vanished_events(session: Session, now: datetime, horizons: ReaperHorizons) -> list[TrackingEvent]:
    """The REAPED events for every active row whose worker must be gone by ``now``."""
    events = [
        _reaped(
            job.task_id,
            job.job_type,
            now,
            "WorkerLost",
            f"worker vanished: attempt {job.attempts} on {job.worker or 'unknown worker'} "
            f"missed its deadline ({(job.deadline_at or job.updated_at).isoformat()}): no heartbeat "
            f"for more than {horizons.deadline:g}s",
        )
        for job in session.scalars(select(JobLog).where(deadline_passed(now, horizons.deadline)))
    ]
    retrying = session.scalars(
        select(JobLog).where(
            JobLog.status == JobStatus.RETRYING.value,
            JobLog.updated_at < now - timedelta(seconds=horizons.grace),
        )
    )
    for job in retrying:
        due = job.next_retry_at or job.updated_at
        if due + timedelta(seconds=horizons.redelivery + horizons.grace) < now:
            reason = f"worker vanished: retry due at {due.isoformat()} never started"
            events.append(_reaped(job.task_id, job.job_type, now, "WorkerLost", reason))
    return events


def lost_message_events(
    session: Session, now: datetime, horizon_seconds: float, inventory: BrokerInventory, limit: int = 1000
) -> list[TrackingEvent]:
    """REAPED events for rows ``queued`` longer than the horizon whose message nothing holds.

    Such a row was written by the launcher but its message was lost (published to a broker
    that then lost it, or the launcher died between the two steps).
    """
    candidates = {
        task_id: job_type
        for task_id, job_type in session.execute(
            select(JobLog.task_id, JobLog.job_type)
            .where(
                JobLog.status == JobStatus.QUEUED.value,
                JobLog.updated_at < now - timedelta(seconds=horizon_seconds),
            )
            .order_by(JobLog.updated_at)
            .limit(limit)
        )
    }
    if not candidates:
        return []
    held = inventory.held(set(candidates))
    reason = f"queued for more than {horizon_seconds:g}s and no broker holds its message"
    return [
        _reaped(task_id, job_type, now, "MessageLost", reason)
        for task_id, job_type in sorted(candidates.items())
        if task_id not in held
    ]
