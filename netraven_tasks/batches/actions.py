"""Actions on a whole batch: cancel what has not started, or run it again (all or the failed).

Canceling revokes the children no worker is running (queued, or waiting for a retry) and records
them ``canceled`` in one set-based write, through the recorder's path so the counters follow;
running children finish. The batch settles ``canceled`` once its last child ends, and its one
summary is planned in the transaction that settles it.
"""

from __future__ import annotations

from celery import Celery
from kombu.exceptions import OperationalError as BrokerError
from sqlalchemy import select, update
from sqlalchemy.orm import Session

from netraven_tasks.batches.launch import BatchOrigin, LaunchedBatch, launch_batch
from netraven_tasks.batches.models import Batch, BatchStatus
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.actions import ActionUnavailable, JobActionRefused
from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.runtime import runtime_of
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import JobStatus
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.isolation import IsolatingWriter, PendingEvent
from netraven_tasks.tracking.recorder import after_commit

PENDING = (JobStatus.QUEUED.value, JobStatus.RETRYING.value)
RERUN_ONLY = ("failed",)


def cancel_batch(
    settings: Settings, batch_id: int, canceled_by: int, canceled_by_name: str, app: Celery | None = None
) -> int:
    """Cancel the batch's pending children; returns how many. JobActionRefused once it settled."""
    runtime = runtime_of(app)
    sessions = session_factory(settings)
    # First its own short transaction: the batch is marked before any child is locked (the
    # recorder locks children, then batches; taking them the other way round could deadlock).
    with sessions.begin() as session:
        marked = session.scalar(
            update(Batch)
            .where(Batch.id == batch_id, Batch.status == BatchStatus.RUNNING.value)
            .values(canceled_by=canceled_by, updated_at=utcnow())
            .returning(Batch.id)
        )
    if marked is None:
        raise JobActionRefused(f"batch {batch_id} is over: only a running batch can be canceled")
    with sessions() as session:
        pending = _pending_children(session, batch_id)
    if not pending:
        return 0
    # The revoke makes any worker drop these messages when they arrive (running ones go on).
    try:
        (app or runtime.app).control.revoke([task_id for task_id, _ in pending])
    except (BrokerError, ConnectionError, OSError) as error:
        raise ActionUnavailable(
            f"the cancel could not be sent, the broker is unreachable: {type(error).__name__}"
        ) from error
    revoked = [
        TrackingEvent(
            kind=EventKind.REVOKED,
            task_id=task_id,
            job_type=job_type,
            error_message=f"canceled with its batch by {canceled_by_name} before it ran",
        )
        for task_id, job_type in pending
    ]
    # The recorder's own write: when no child is running, this transaction settles the batch and
    # plans its summary.
    writer = IsolatingWriter(sessions, None, source="cancel", planner=runtime.planner())
    outcomes = writer.write([PendingEvent(event) for event in revoked])
    after_commit(runtime.live_feed(), runtime.terminal_hooks, outcomes)
    return sum(1 for outcome in outcomes if outcome.became_terminal)


def _pending_children(session: Session, batch_id: int) -> list[tuple[str, str]]:
    query = select(JobLog.task_id, JobLog.job_type).where(
        JobLog.batch_id == batch_id, JobLog.status.in_(PENDING)
    )
    return [(task_id, job_type) for task_id, job_type in session.execute(query.order_by(JobLog.id))]


def rerun_batch(
    settings: Settings,
    batch: Batch,
    owner_id: int,
    owner_is_admin: bool,
    only: str | None = None,
    app: Celery | None = None,
    team_id: int | None = None,
) -> LaunchedBatch:
    """A new batch of the same job type and arguments over the same devices (``only="failed"``:
    the failed ones), owned by ``owner_id`` (in ``team_id``), remembering its origin. Launch
    checks apply again."""
    if batch.status == BatchStatus.RUNNING.value:
        raise JobActionRefused(f"batch {batch.id} is running: only a finished batch can be re-run")
    with session_factory(settings)() as session:
        query = select(JobLog.device).where(JobLog.batch_id == batch.id, JobLog.device.is_not(None))
        if only == "failed":
            query = query.where(JobLog.status == JobStatus.FAILED.value)
        names = sorted({name for name in session.scalars(query) if name is not None})
    if not names:
        raise JobActionRefused(f"batch {batch.id} has no {only or ''} devices to re-run".replace("  ", " "))
    return launch_batch(
        settings,
        batch.job_type,
        {"devices": names},
        batch.arguments,
        owner_id,
        is_admin=owner_is_admin,
        origin=BatchOrigin(rerun_of=batch.id, team_id=team_id),
        app=app,
    )
