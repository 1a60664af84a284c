"""How a tracking event changes a job-log row: the state machine of a job run.

Idempotent and order-tolerant: a duplicate event or one from an older attempt adds no
transition, and a terminal status is final.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any

from psycopg2.extras import execute_values
from sqlalchemy import Table, bindparam, select, update
from sqlalchemy.orm import Session

from netraven_tasks.batches.counters import BatchSettled, Move, count_moves
from netraven_tasks.db import insert
from netraven_tasks.models import JobLog, JobLogEntry
from netraven_tasks.statuses import TERMINAL_STATUSES, JobStatus
from netraven_tasks.text import truncate
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.live import job_row
from netraven_tasks.tracking.pg_bulk import copy_rows, insert_unnest
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
    state: RunRow | None = field(default=None, repr=False, compare=False)  # the row as committed
    # A fleet run's child: its batch's row as this transaction left it (on the batch's last
    # outcome of the transaction), and the batch when this outcome settled it (exactly once).
    batch: dict[str, Any] | None = field(default=None, repr=False, compare=False)
    settled: BatchSettled | None = field(default=None, compare=False)

    @property
    def row(self) -> dict[str, Any] | None:
        """The row as committed by this batch, JSON-ready (for the live feed); built on demand:
        a recorder without a live feed never pays for it."""
        return None if self.state is None else job_row(self.state)


def trim(text: str | None, limit: int) -> str | None:
    return None if text is None else truncate(text, limit)


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
    batch_id: int | None

    def __init__(self, values: dict[str, Any], unwritten: bool = False):
        self.__dict__.update(values)
        self.unwritten = unwritten  # created by this batch, no event applied yet
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


Entries = list[tuple[RunRow, dict[str, Any]]]  # the row an entry belongs to (its id may come later)
# The columns of a row the recorder creates, with their PostgreSQL types (for the unnest arrays).
_PG_FRESH_COLUMNS = (
    ("task_id", "varchar"), ("job_type", "varchar"), ("device", "varchar"), ("owner_id", "int"),
    ("args", "jsonb"), ("queued_at", "timestamptz"), ("status", "varchar"), ("attempts", "int"),
    ("celery_retries", "int"), ("started_at", "timestamptz"), ("finished_at", "timestamptz"),
    ("next_retry_at", "timestamptz"), ("duration_seconds", "float8"), ("result", "jsonb"),
    ("error_type", "varchar"), ("error_message", "text"), ("worker", "varchar"),
    ("updated_at", "timestamptz"), ("batch_id", "bigint"), ("team_id", "int"),
)  # fmt: skip
_ENTRY_COLUMNS = ("job_log_id", "at", "level", "event", "message", "details")


def _new_row(event: TrackingEvent) -> RunRow:
    """A row not in the database yet, queued by its first event; inserted once the batch is applied."""
    values: dict[str, Any] = dict.fromkeys(_TABLE.c.keys())
    values.update(
        task_id=event.task_id,
        job_type=event.job_type,
        device=event.device,
        owner_id=event.owner_id,
        args=event.args,
        status=JobStatus.QUEUED.value,
        attempts=0,
        celery_retries=0,
        queued_at=event.at,
        updated_at=event.at,
        batch_id=event.batch_id,
        team_id=event.team_id,
    )
    return RunRow(values, unwritten=True)


def _insert_fresh(session: Session, fresh: Sequence[RunRow]) -> set[str]:
    """Insert new rows in the state the batch left them; returns the task ids inserted (a row
    another transaction created meanwhile is skipped: the caller applies its events again)."""
    if session.get_bind().dialect.name == "postgresql":
        rows = [[getattr(job, name) for name, _ in _PG_FRESH_COLUMNS] for job in fresh]
        returned = insert_unnest(session, "job_logs", _PG_FRESH_COLUMNS, rows, "task_id", ("id", "task_id"))
    else:
        statement = (
            insert(session, _TABLE)
            .on_conflict_do_nothing(index_elements=["task_id"])
            .returning(_TABLE.c.id, _TABLE.c.task_id)
        )
        values = [{name: getattr(job, name) for name, _ in _PG_FRESH_COLUMNS} for job in fresh]
        returned = [tuple(row) for row in session.execute(statement, values)]
    ids = {task_id: row_id for row_id, task_id in returned}
    for job in fresh:
        if job.task_id in ids:
            job.id = ids[job.task_id]
    return set(ids)


def _write_entries(session: Session, entries: Entries) -> None:
    """Append the batch's log entries: one COPY on PostgreSQL, one executemany elsewhere."""
    if session.get_bind().dialect.name == "postgresql":
        copy_rows(
            session,
            "job_log_entries",
            _ENTRY_COLUMNS,
            ((job.id, *(entry[key] for key in _ENTRY_COLUMNS[1:])) for job, entry in entries),
        )
        return
    session.execute(_INSERT_ENTRIES, [{"job_log_id": job.id, **entry} for job, entry in entries])


def _entry(
    entries: Entries, job: RunRow, event: TrackingEvent, level: str, message: str, **details: Any
) -> None:
    entries.append(
        (
            job,
            {
                "at": event.at,
                "level": level,
                "event": event.kind.value,
                "message": message,
                "details": {k: v for k, v in details.items() if v is not None} or None,
            },
        )
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


def _locked_rows(session: Session, task_ids: Sequence[str]) -> dict[str, RunRow]:
    """The existing rows of ``task_ids``, locked until the commit (in one order: no deadlock)."""
    query = select(_TABLE).where(_TABLE.c.task_id.in_(sorted(task_ids))).order_by(_TABLE.c.task_id)
    return {row.task_id: RunRow(dict(row._mapping)) for row in session.execute(query.with_for_update())}


def apply_events(
    session: Session, events: Sequence[TrackingEvent], *, reopen_rejected: bool = False
) -> list[Outcome]:
    """Apply events in order inside the caller's transaction, set-based: one SELECT … FOR UPDATE
    of the rows that exist, the state machine in Python, one INSERT of new rows (in their final
    state), one UPDATE of changed rows, one COPY (PostgreSQL) of the entries.

    ``reopen_rejected``: a run failed only because one of its events was rejected takes this
    final event as if it were still active (an operator replays the dead letter after a fix); a
    replayed non-final event is only noted, it never reopens a run that nothing would finish.
    """
    if not events:
        return []
    events = [storable_event(event) for event in events]
    results: list[tuple[RunRow, JobStatus, bool] | None] = [None] * len(events)
    entries: Entries = []
    updated: dict[int, RunRow] = {}
    created: list[RunRow] = []
    todo = list(range(len(events)))
    while todo:
        jobs = _locked_rows(session, list({events[i].task_id for i in todo}))
        fresh: dict[str, RunRow] = {}
        for i in todo:
            if events[i].task_id not in jobs and events[i].task_id not in fresh:
                fresh[events[i].task_id] = _new_row(events[i])
        jobs.update(fresh)
        applied: Entries = []
        for i in todo:
            results[i] = _step(applied, jobs[events[i].task_id], events[i], reopen_rejected)
        inserted = _insert_fresh(session, list(fresh.values())) if fresh else set()
        # A row another transaction created between our SELECT and our INSERT (a launcher writing
        # that task's queued row): its events are applied again, on the row as it was written.
        raced = set(fresh) - inserted
        created.extend(job for task_id, job in fresh.items() if task_id in inserted)
        entries.extend(entry for entry in applied if entry[0].task_id not in raced)
        updated.update({job.id: job for job in jobs.values() if job.task_id not in fresh})
        todo = [i for i in todo if events[i].task_id in raced]
    updates = [
        {"row_id": job.id, **changed} for job in updated.values() if (changed := job.changes()) is not None
    ]
    if updates:
        write_updates(session, updates)
    if entries:
        _write_entries(session, entries)
    moves: list[Move] = [
        (job.batch_id, job.original["status"], job.status)
        for job in updated.values()
        if job.batch_id is not None and job.status != job.original["status"]
    ]
    moves.extend((job.batch_id, None, job.status) for job in created if job.batch_id is not None)
    batches, settled = count_moves(session, moves) if moves else ([], [])
    outcomes = []
    for result in results:
        assert result is not None  # every event was applied once
        job, status, terminal = result
        outcomes.append(Outcome(job.id, status, terminal, job))
    return _with_batches(outcomes, batches, settled)


def _with_batches(
    outcomes: list[Outcome], batches: list[dict[str, Any]], settled: list[BatchSettled]
) -> list[Outcome]:
    """Hand each changed batch's row to its last outcome, and each settled batch to the last
    outcome that ended one of its children (the terminal hooks see it once, after the commit)."""
    if not batches:
        return outcomes
    rows = {row["id"]: row for row in batches}
    ended = {batch.batch_id: batch for batch in settled}
    for i in reversed(range(len(outcomes))):
        outcome = outcomes[i]
        batch_id = getattr(outcome.state, "batch_id", None)
        if batch_id is None:
            continue
        changes: dict[str, Any] = {}
        if batch_id in rows:
            changes["batch"] = rows.pop(batch_id)
        if outcome.became_terminal and batch_id in ended:
            changes["settled"] = ended.pop(batch_id)
        if changes:
            outcomes[i] = replace(outcome, **changes)
    return outcomes


def _step(
    entries: Entries, job: RunRow, event: TrackingEvent, reopen_rejected: bool
) -> tuple[RunRow, JobStatus, bool]:
    """Apply one event to its row: (the row, its status now, whether it just became terminal)."""
    was_terminal = job.status in TERMINAL_STATUSES and not (
        reopen_rejected and job.error_type == REJECTED_ERROR_TYPE and event.kind in _FINAL
    )
    # The first event of a row this batch creates says so; later ones see it as existing.
    created, job.unwritten = job.unwritten, False
    _apply(entries, job, event, created=created, was_terminal=was_terminal)
    status = JobStatus(job.status)
    return job, status, status.is_terminal and not was_terminal


def apply_event(session: Session, event: TrackingEvent) -> Outcome:
    """Apply one event to its job-log row (created on first sight) inside the caller's transaction."""
    return apply_events(session, [event])[0]


def _apply(entries: Entries, job: RunRow, event: TrackingEvent, created: bool, was_terminal: bool) -> None:
    kind = event.kind
    stale = (kind in _PER_ATTEMPT and event.retries < job.celery_retries) or (
        # A start replayed late (from the spool) after its attempt's retry was recorded: the row
        # must not go back to running; the next attempt's start has a higher ``retries``.
        kind is EventKind.STARTED
        and job.status == JobStatus.RETRYING.value
        and event.retries <= job.celery_retries
    )
    if kind is not EventKind.DEFERRED:
        # A deferral changes no column a rollup reads: its hour need not be rolled up again.
        job.updated_at = event.at

    if kind is EventKind.QUEUED:
        if created:
            _entry(entries, job, event, "info", "queued", device=event.device)
    elif was_terminal or stale:
        _entry(entries, job, event, "debug", f"late {kind.value} event ignored (job is {job.status})")
    elif kind is EventKind.DEFERRED:
        _defer(entries, job, event)
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


def _defer(entries: Entries, job: RunRow, event: TrackingEvent) -> None:
    """The run's device was busy: it keeps its status and attempts, and says how long it waits."""
    wait = (event.next_retry_at - event.at).total_seconds() if event.next_retry_at else 0.0
    if job.status == JobStatus.RETRYING.value:
        job.next_retry_at = event.next_retry_at  # its retry is due later now (the reaper reads it)
    _entry(
        entries,
        job,
        event,
        "info",
        f"waiting {wait:.1f}s: device {event.device} is busy (its limit of concurrent jobs is reached)",
        device=event.device,
        next_try_at=event.next_retry_at.isoformat() if event.next_retry_at else None,
    )
