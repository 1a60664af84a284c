"""The reaper: settles job runs whose worker vanished, so no row stays active forever.

A running attempt cannot outlive its job type's hard time limit; a row still ``running`` well
after that (or ``retrying`` well after its retry was due) lost its worker. A row still ``queued``
after the grace period whose message no broker holds lost its message.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.jobs.registry import get_job_type
from netraven_tasks.models import JobLog
from netraven_tasks.statuses import JobStatus
from netraven_tasks.tracking.broker_inventory import BrokerInventory
from netraven_tasks.tracking.events import EventKind, TrackingEvent

DEFAULT_TIME_LIMIT = 300.0
# A due retry waits in a worker's memory; if that worker dies the broker re-delivers the
# message after its visibility timeout (celery_app.REDELIVERY_SECONDS), so give it that long.
RETRY_REDELIVERY_SECONDS = 3600.0


def vanished_events(session: Session, now: datetime, grace_seconds: float) -> list[TrackingEvent]:
    """The REAPED events for every active row whose worker must be gone by ``now``."""
    candidates = session.scalars(
        select(JobLog).where(
            JobLog.status.in_([JobStatus.RUNNING.value, JobStatus.RETRYING.value]),
            JobLog.updated_at < now - timedelta(seconds=grace_seconds),
        )
    )
    events = []
    for job in candidates:
        declared = get_job_type(job.job_type)
        limit = (declared.time_limit if declared else None) or DEFAULT_TIME_LIMIT
        if job.status == JobStatus.RUNNING.value:
            deadline = job.updated_at + timedelta(seconds=limit + grace_seconds)
            reason = (
                f"attempt {job.attempts} on {job.worker or 'unknown worker'} outlived its {limit:g}s limit"
            )
        else:
            due = job.next_retry_at or job.updated_at
            deadline = due + timedelta(seconds=limit + RETRY_REDELIVERY_SECONDS + grace_seconds)
            reason = f"retry due at {due.isoformat()} never started"
        if deadline < now:
            events.append(
                TrackingEvent(
                    kind=EventKind.REAPED,
                    task_id=job.task_id,
                    job_type=job.job_type,
                    at=now,
                    error_type="WorkerLost",
                    error_message=f"worker vanished: {reason}",
                )
            )
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
    return [
        TrackingEvent(
            kind=EventKind.REAPED,
            task_id=task_id,
            job_type=job_type,
            at=now,
            error_type="MessageLost",
            error_message=f"queued for more than {horizon_seconds:g}s and no broker holds its message",
        )
        for task_id, job_type in sorted(candidates.items())
        if task_id not in held
    ]
