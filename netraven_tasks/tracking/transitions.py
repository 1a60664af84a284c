"""How a tracking event changes a job-log row: the state machine of a job run.

Idempotent and order-tolerant: a duplicate event or one from an older attempt adds no
transition, and a terminal status is final.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg2.extras import execute_values
from sqlalchemy import Table, bindparam, select, update
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


class RunRow:
    """A job-log row as a batch changes it: every column a plain attribute, no ORM state.

    The state machine below works on these; the batch then writes all changed rows with one
    UPDATE … FROM (VALUES …) and all entries with one multi-row INSERT (no unit of work per event).
    """

    id: int
    task_id: str
    job_type: str
    status: str
    attempts: int
    celery_retries: int
    started_at: datetime | None
    finished_at: datetime | None
    next_retry_at: datetime | None
    duration_seconds: float | None
    result: dict[str, Any] | None
    error_type: str | None
    error_message: str | None
    worker: str | None
    updated_at: datetime

    def __init__(self, values: dict[str, Any]):
        self.__dict__.update(values)
        self.original = {key: values[key] for key in MUTABLE_COLUMNS}

    def changes(self) -> dict[str, Any] | None:
        current = {key: getattr(self, key) for key in MUTABLE_COLUMNS}
        return current if current != self.original else None


# What a tracking event may change in a row (all of them are written when any one changed, so
# the UPDATE has one shape and one compiled statement).
MUTABLE_COLUMNS = (
    "status", "attempts", "celery_retries", "started_at", "finished_at", "next_retry_at",
    "duration_seconds", "result", "error_type", "error_message", "worker", "updated_at",
)  # fmt: skip

_TABLE: Table = JobLog.__table__  # type: ignore[assignment]
_UPDATE = (
    update(_TABLE)
    .where(_TABLE.c.id == bindparam("row_id"))
    .values({key: bindparam(key) for key in MUTABLE_COLUMNS})
)
_INSERT_ENTRIES = JobLogEntry.__table__.insert()  # type: ignore[attr-defined]


# PostgreSQL: every changed row in one statement (psycopg2's execute_values pages the VALUES).
_PG_UPDATE = (
    "UPDATE job_logs AS j SET status = v.status, attempts = v.attempts, celery_retries = v.celery_retries, "
    "started_at = v.started_at, finished_at = v.finished_at, next_retry_at = v.next_retry_at, "
    "duration_seconds = v.duration_seconds, result = v.result, error_type = v.error_type, "
    "error_message = v.error_message, worker = v.worker, updated_at = v.updated_at "
    "FROM (VALUES %s) AS v(id, status, attempts, celery_retries, started_at, finished_at, next_retry_at, "
    "duration_seconds, result, error_type, error_message, worker, updated_at) WHERE j.id = v.id"
)
_PG_TEMPLATE = (
    "(%(row_id)s::bigint, %(status)s, %(attempts)s::int, %(celery_retries)s::int, "
    "%(started_at)s::timestamptz, %(finished_at)s::timestamptz, %(next_retry_at)s::timestamptz, "
    "%(duration_seconds)s::float8, %(result)s::jsonb, %(error_type)s, %(error_message)s, %(worker)s, "
    "%(updated_at)s::timestamptz)"
)


def write_updates(session: Session, updates: list[dict[str, Any]]) -> None:
    """Write the changed rows: one UPDATE … FROM (VALUES …) on PostgreSQL, executemany elsewhere."""
    connection = session.connection()
    if connection.dialect.name != "postgresql":
        session.execute(_UPDATE, updates)
        return
    for values in updates:
        values["result"] = None if values["result"] is None else json.dumps(values["result"])
    cursor = connection.connection.cursor()
    try:
        execute_values(cursor, _PG_UPDATE, updates, template=_PG_TEMPLATE, page_size=1000)
    finally:
        cursor.close()


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
    statement = insert(_TABLE).on_conflict_do_nothing(index_elements=["task_id"]).returning(_TABLE.c.task_id)
    # executemany with RETURNING: one compiled statement, sent as multi-row VALUES pages.
    return set(session.scalars(statement, rows))


def _entry(
    entries: list[dict[str, Any]], job: RunRow, event: TrackingEvent, level: str, message: str, **details: Any
) -> None:
    entries.append(
        {
            "job_log_id": job.id,
            "at": event.at,
            "level": level,
            "event": event.kind.value,
            "message": message,
            "details": {k: v for k, v in details.items() if v is not None} or None,
        }
    )


def _finish(job: RunRow, event: TrackingEvent, status: JobStatus) -> None:
    job.status = status.value
    job.finished_at = event.at
    job.next_retry_at = None
    if job.started_at is not None:
        job.duration_seconds = max(0.0, (event.at - job.started_at).total_seconds())


def _set_error(job: RunRow, event: TrackingEvent) -> None:
    job.error_type = event.error_type
    job.error_message = trim(event.error_message, MESSAGE_LIMIT)


def apply_events(
    session: Session, events: Sequence[TrackingEvent], *, reopen_rejected: bool = False
) -> list[Outcome]:
    """Apply events in order inside the caller's transaction, set-based: one INSERT of new
    rows, one SELECT … FOR UPDATE, one executemany UPDATE, one INSERT of entries.

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
        row.task_id: RunRow(dict(row._mapping))
        for row in session.execute(
            select(_TABLE).where(_TABLE.c.task_id.in_(task_ids)).order_by(_TABLE.c.task_id).with_for_update()
        )
    }
    entries: list[dict[str, Any]] = []
    changes = []
    for event in events:
        job = jobs[event.task_id]
        was_terminal = job.status in TERMINAL_STATUSES and not (
            reopen_rejected and job.error_type == REJECTED_ERROR_TYPE and event.kind in _FINAL
        )
        _apply(entries, job, event, created=event.task_id in fresh, was_terminal=was_terminal)
        fresh.discard(event.task_id)
        status = JobStatus(job.status)
        changes.append((job, status, status.is_terminal and not was_terminal))
    updates = []
    for job in jobs.values():
        changed = job.changes()
        if changed is not None:
            updates.append({"row_id": job.id, **changed})
    if updates:
        write_updates(session, updates)
    if entries:
        session.execute(_INSERT_ENTRIES, entries)
    rows = {job.id: job_row(job) for job in jobs.values()}
    return [Outcome(job.id, status, terminal, rows[job.id]) for job, status, terminal in changes]


def apply_event(session: Session, event: TrackingEvent) -> Outcome:
    """Apply one event to its job-log row (created on first sight) inside the caller's transaction."""
    return apply_events(session, [event])[0]


def _apply(
    entries: list[dict[str, Any]], job: RunRow, event: TrackingEvent, created: bool, was_terminal: bool
) -> None:
    kind = event.kind
    stale = kind in _PER_ATTEMPT and event.retries < job.celery_retries
    job.updated_at = event.at

    if kind is EventKind.QUEUED:
        if created:
            _entry(entries, job, event, "info", "queued", device=event.device)
    elif was_terminal or stale:
        _entry(entries, job, event, "debug", f"late {kind.value} event ignored (job is {job.status})")
    elif kind is EventKind.STARTED:
        if created:
            _entry(entries, job, event, "info", "queued (published before tracking saw it)")
        job.status = JobStatus.RUNNING.value
        job.attempts += 1
        job.celery_retries = event.retries
        job.started_at = job.started_at or event.at
        job.next_retry_at = None
        job.worker = event.worker
        _entry(entries, job, event, "info", f"attempt {job.attempts} started", worker=event.worker)
    elif kind is EventKind.SUCCEEDED:
        _finish(job, event, JobStatus.COMPLETED)
        job.result = result_summary(event.result)
        job.error_type = job.error_message = None
        _entry(entries, job, event, "info", f"completed after {job.attempts} attempt(s)")
    elif kind is EventKind.RETRY_SCHEDULED:
        job.status = JobStatus.RETRYING.value
        job.next_retry_at = event.next_retry_at
        _set_error(job, event)
        _entry(
            entries,
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
            entries,
            job,
            event,
            "error",
            f"failed after {job.attempts} attempt(s): {event.error_type}: "
            f"{trim(event.error_message, MESSAGE_LIMIT)}",
            traceback=trim_traceback(event.traceback),
        )
    elif kind is EventKind.REVOKED:
        _finish(job, event, JobStatus.CANCELED)
        _entry(entries, job, event, "warning", f"canceled: {event.error_message or 'revoked'}")
    elif kind is EventKind.REJECTED:
        _finish(job, event, JobStatus.FAILED)
        _set_error(job, event)
        _entry(entries, job, event, "error", f"tracking event rejected: {event.error_message}")
    elif kind is EventKind.REAPED:
        _finish(job, event, JobStatus.FAILED)
        _set_error(job, event)
        _entry(entries, job, event, "error", f"reaped: {event.error_message}")
