"""Actions a person takes on a job run: cancel it (revoke through Celery) or run it again.

Both are decided here, apart from the HTTP layer: a run that is already over cannot be canceled,
and only a run that is over can be re-run (``JobActionRefused`` names why, the API answers 409).
A broker that cannot take the cancel raises ``ActionUnavailable`` (503, like a launch).
"""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from marshmallow import ValidationError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import RETRY_AFTER_SECONDS, LaunchedJob, UnknownJobType, launch_job
from netraven_tasks.jobs.registry import get_job_type
from netraven_tasks.models import JobLog, JobLogEntry, utcnow
from netraven_tasks.runtime import runtime_of
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import TERMINAL_STATUSES, JobStatus
from netraven_tasks.tracking.events import EventKind, TrackingEvent


class JobActionRefused(Exception):
    """The run's state does not allow the action; the message says why."""


class ActionUnavailable(RuntimeError):
    """The broker could not take the action now; try again after a while."""

    def __init__(self, message: str, retry_after: int = RETRY_AFTER_SECONDS):
        super().__init__(message)
        self.retry_after = retry_after


def may_cancel(status: str) -> bool:
    return status not in TERMINAL_STATUSES


def may_rerun(status: str) -> bool:
    return status in TERMINAL_STATUSES


def cancel_job(
    session: Session, job: JobLog, canceled_by: int, canceled_by_name: str, app: Celery | None = None
) -> None:
    """Revoke the run; a running one is terminated and the worker records it ``canceled``.
    Not a run of another app's task (``track``): JobActionRefused.

    A run no worker has started (queued, or waiting for its retry) is recorded ``canceled`` here at
    once: the revoke makes any worker drop its message when it arrives, and the late events it
    might still send are ignored because a terminal status is final. ``app``: as for launch_job.
    """
    runtime = runtime_of(app)
    if not may_cancel(job.status):
        raise JobActionRefused(
            f"job log {job.id} is {job.status}: only a queued, running or retrying job can be canceled"
        )
    declared = get_job_type(job.job_type)
    if declared is not None and declared.tracked:
        # Our revoke goes through our broker; the task's own workers may listen to another one.
        raise JobActionRefused(
            f"{job.job_type[:100]} runs on its own Celery app: cancel it there (app.control.revoke)"
        )
    now = utcnow()
    session.execute(update(JobLog).where(JobLog.id == job.id).values(canceled_by=canceled_by))
    session.add(
        JobLogEntry(
            job_log_id=job.id,
            at=now,
            level="info",
            event="cancel_requested",
            message=f"cancel requested by {canceled_by_name}",
            details={"user_id": canceled_by},
        )
    )
    session.commit()
    try:
        # terminate=True: if a worker has started it meanwhile, its child process is stopped too.
        (app or runtime.app).control.revoke(job.task_id, terminate=True, signal="SIGTERM")
    except (BrokerError, ConnectionError, OSError) as error:
        raise ActionUnavailable(
            f"the cancel could not be sent, the broker is unreachable: {type(error).__name__}"
        ) from error
    if job.status != JobStatus.RUNNING:
        runtime.recorder().record(
            TrackingEvent(
                kind=EventKind.REVOKED,
                task_id=job.task_id,
                job_type=job.job_type,
                error_message=f"canceled by {canceled_by_name} before it ran",
            )
        )


def cancel_pending_runs(
    session: Session, owner_id: int, canceled_by_name: str, app: Celery | None = None
) -> int:
    """Cancel every run of ``owner_id`` no worker is running now (queued, or waiting for a retry),
    as ``cancel_job`` does; returns how many. A deactivated user's pending work stops with them."""
    pending = session.scalars(
        select(JobLog)
        .where(JobLog.owner_id == owner_id, JobLog.status.in_([JobStatus.QUEUED, JobStatus.RETRYING]))
        .order_by(JobLog.id)
    ).all()
    canceled = 0
    for job in pending:
        try:
            cancel_job(session, job, owner_id, canceled_by_name, app)
            canceled += 1
        except JobActionRefused:
            pass  # it finished meanwhile
    return canceled


def rerun_job(
    settings: Settings, job: JobLog, owner_id: int, owner_is_admin: bool, team_id: int | None = None
) -> LaunchedJob:
    """Launch the same job type with the same arguments, owned by ``owner_id`` (in ``team_id``);
    remember the origin.

    Raises JobActionRefused if the job type or its arguments changed since (the run's state, not
    the request, is what is wrong), LaunchForbidden if the new owner may not launch it (roles are
    checked again, as for a launch), LaunchUnavailable as a launch does.
    """
    if not may_rerun(job.status):
        raise JobActionRefused(f"job log {job.id} is {job.status}: only a finished job can be re-run")
    declared = get_job_type(job.job_type)
    try:
        if declared is None:
            raise UnknownJobType(job.job_type)
        declared.authorize(dict(job.args or {}), owner_is_admin, settings)
        launched = launch_job(settings, job.job_type, dict(job.args or {}), owner_id, team_id=team_id)
    except UnknownJobType:
        raise JobActionRefused(f"job type {job.job_type[:100]!r} is no longer known") from None
    except ValidationError as error:
        raise JobActionRefused(f"the old arguments are no longer valid: {error.messages}") from None
    with session_factory(settings).begin() as session:
        session.execute(update(JobLog).where(JobLog.id == launched.job_log_id).values(rerun_of=job.id))
    return launched
