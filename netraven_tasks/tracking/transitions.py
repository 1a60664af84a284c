"""How a tracking event changes a job-log row: the state machine of a job run.

Idempotent and order-tolerant: a duplicate event or one from an older attempt adds no
transition, and a terminal status is final.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog, JobLogEntry
from netraven_tasks.statuses import TERMINAL_STATUSES, JobStatus
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.live import job_row
from netraven_tasks.tracking.storable import MESSAGE_LIMIT, TRACEBACK_LIMIT, storable_event, storable_object

# The error type of a run failed because the database refused one of its tracking events.
REJECTED_ERROR_TYPE = "TrackingEventRejected"


# Events that belong to one attempt; one from an attempt older than the current is stale.
_PER_ATTEMPT = frozenset(
    {EventKind.STARTED, EventKind.SUCCEEDED, EventKind.RETRY_SCHEDULED, EventKind.FAILED}
)

# Events that end a run.
_FINAL = frozenset({EventKind.SUCCEEDED, EventKind.FAILED, EventKind.REVOKED})


@dataclass(frozen=True)
class Outcome:
    job_log_id: int
    status: JobStatus
    became_terminal: bool
    row: dict[str, Any] | None = None  # the row as committed by this batch (for the live feed)


def trim(text: str | None, limit: int) -> str | None:
    if text is None or len(text) <= limit:
        return text
    return text[: limit - 20] + f"… [{len(text) - limit + 20} more]"


def trim_traceback(text: str | None) -> str | None:
    """Keep the end of a traceback: the innermost frames and the error are what matter."""
    if text is None or len(text) <= TRACEBACK_LIMIT:
        return text
    return "[…]\n" + text[-TRACEBACK_LIMIT:]


def result_summary(value: Any) -> dict[str, Any] | None:
    """A JSON object small enough to store: a job's result, wrapped or truncated if need be."""
    return storable_object(value)


def _insert_missing(session: Session, events: Sequence[TrackingEvent]) -> set[str]:
    """Insert a queued row for every task not seen before; returns the task ids inserted now."""
    first: dict[str, TrackingEvent] = {}
    for event in events:
        first.setdefault(event.task_id, event)
    rows = [
        {
            "task_id": e.task_id,
            "job_type": e.job_type,
            "device": e.device,
            "owner_id": e.owner_id,
            "args": e.args,
            "status": JobStatus.QUEUED.value,
            "attempts": 0,
            "celery_retries": 0,
            "queued_at": e.at,
            "updated_at": e.at,
        }
        for _, e in sorted(first.items())  # one order everywhere: no deadlock between batches
    ]
    dialect = session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = (
        insert(JobLog)
        .values(rows)
        .on_conflict_do_nothing(index_elements=["task_id"])
        .returning(JobLog.task_id)
    )
    return set(session.scalars(statement))


def _entry(
    session: Session, job: JobLog, event: TrackingEvent, level: str, message: str, **details: Any
) -> None:
    # Added by foreign key, not through job.entries, so the collection is never loaded.
    session.add(
        JobLogEntry(
            job_log_id=job.id,
            at=event.at,
            level=level,
            event=event.kind.value,
            message=message,
            details={k: v for k, v in details.items() if v is not None} or None,
        )
    )


def _finish(job: JobLog, event: TrackingEvent, status: JobStatus) -> None:
    job.status = status.value
    job.finished_at = event.at
    job.next_retry_at = None
    if job.started_at is not None:
        job.duration_seconds = max(0.0, (event.at - job.started_at).total_seconds())


def _set_error(job: JobLog, event: TrackingEvent) -> None:
    job.error_type = event.error_type
    job.error_message = trim(event.error_message, MESSAGE_LIMIT)


def apply_events(
    session: Session, events: Sequence[TrackingEvent], *, reopen_rejected: bool = False
) -> list[Outcome]:
    """Apply events in order inside the caller's transaction: one insert, one select, one flush.

    ``reopen_rejected``: a run failed only because one of its events was rejected takes this
    final event as if it were still active (an operator replays the dead letter after a fix); a
    replayed non-final event is only noted, it never reopens a run that nothing would finish.
    """
    if not events:
        return []
    events = [storable_event(event) for event in events]
    fresh = _insert_missing(session, events)
    task_ids = sorted({event.task_id for event in events})
    jobs = {
        job.task_id: job
        for job in session.scalars(
            select(JobLog).where(JobLog.task_id.in_(task_ids)).order_by(JobLog.task_id).with_for_update()
        )
    }
    changes = []
    for event in events:
        job = jobs[event.task_id]
        was_terminal = job.status in TERMINAL_STATUSES and not (
            reopen_rejected and job.error_type == REJECTED_ERROR_TYPE and event.kind in _FINAL
        )
        _apply(session, job, event, created=event.task_id in fresh, was_terminal=was_terminal)
        fresh.discard(event.task_id)
        status = JobStatus(job.status)
        changes.append((job, status, status.is_terminal and not was_terminal))
    session.flush()
    rows = {job.id: job_row(job) for job in jobs.values()}
    return [Outcome(job.id, status, terminal, rows[job.id]) for job, status, terminal in changes]


def apply_event(session: Session, event: TrackingEvent) -> Outcome:
    """Apply one event to its job-log row (created on first sight) inside the caller's transaction."""
    return apply_events(session, [event])[0]


def _apply(session: Session, job: JobLog, event: TrackingEvent, created: bool, was_terminal: bool) -> None:
    kind = event.kind
    stale = kind in _PER_ATTEMPT and event.retries < job.celery_retries
    job.updated_at = event.at

    if kind is EventKind.QUEUED:
        if created:
            _entry(session, job, event, "info", "queued", device=event.device)
    elif was_terminal or stale:
        _entry(session, job, event, "debug", f"late {kind.value} event ignored (job is {job.status})")
    elif kind is EventKind.STARTED:
        if created:
            _entry(session, job, event, "info", "queued (published before tracking saw it)")
        job.status = JobStatus.RUNNING.value
        job.attempts += 1
        job.celery_retries = event.retries
        job.started_at = job.started_at or event.at
        job.next_retry_at = None
        job.worker = event.worker
        _entry(session, job, event, "info", f"attempt {job.attempts} started", worker=event.worker)
    elif kind is EventKind.SUCCEEDED:
        _finish(job, event, JobStatus.COMPLETED)
        job.result = result_summary(event.result)
        job.error_type = job.error_message = None
        _entry(session, job, event, "info", f"completed after {job.attempts} attempt(s)")
    elif kind is EventKind.RETRY_SCHEDULED:
        job.status = JobStatus.RETRYING.value
        job.next_retry_at = event.next_retry_at
        _set_error(job, event)
        _entry(
            session,
            job,
            event,
            "warning",
            f"attempt {job.attempts} failed, retry scheduled: {event.error_type}: "
            f"{trim(event.error_message, MESSAGE_LIMIT)}",
            next_retry_at=event.next_retry_at.isoformat() if event.next_retry_at else None,
            traceback=trim_traceback(event.traceback),
        )
    elif kind is EventKind.FAILED:
        _finish(job, event, JobStatus.FAILED)
        _set_error(job, event)
        _entry(
            session,
            job,
            event,
            "error",
            f"failed after {job.attempts} attempt(s): {event.error_type}: "
            f"{trim(event.error_message, MESSAGE_LIMIT)}",
            traceback=trim_traceback(event.traceback),
        )
    elif kind is EventKind.REVOKED:
        _finish(job, event, JobStatus.CANCELED)
        _entry(session, job, event, "warning", f"canceled: {event.error_message or 'revoked'}")
    elif kind is EventKind.REJECTED:
        _finish(job, event, JobStatus.FAILED)
        _set_error(job, event)
        _entry(session, job, event, "error", f"tracking event rejected: {event.error_message}")
    elif kind is EventKind.REAPED:
        _finish(job, event, JobStatus.FAILED)
        _set_error(job, event)
        _entry(session, job, event, "error", f"reaped: {event.error_message}")
