"""Reading batches: one row per batch (its counters), the failed devices through the children's index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Row, Select, case, func, select
from sqlalchemy.orm import Session

from netraven_tasks.access.policy import Action, Resource, Viewer, visible_clause
from netraven_tasks.batches.counters import batch_row
from netraven_tasks.batches.models import COUNTED, Batch
from netraven_tasks.models import JobLog
from netraven_tasks.statuses import JobStatus

MAX_FAILED_SHOWN = 1000
MAX_BATCH_ID = 2**63 - 1  # BIGINT: a larger id cannot exist (and SQLite cannot even bind one)

# The orders of a batch's children: each ends with the device and the id, so pages never overlap.
# Status goes by the life cycle (queued … canceled), duration longest first, unfinished last.
CHILD_ORDERS: dict[str, tuple[Any, ...]] = {
    "device": (JobLog.device, JobLog.id),
    "status": (
        case({status: rank for rank, status in enumerate(COUNTED)}, value=JobLog.status),
        JobLog.device,
        JobLog.id,
    ),
    "duration": (JobLog.duration_seconds.desc().nulls_last(), JobLog.device, JobLog.id),
}


class BatchNotFound(LookupError):
    """No such batch, or not one the caller may see (the same answer, so ids reveal nothing)."""


def visible(query: Select[Any], viewer: Viewer | None, action: Action = Action.VIEW) -> Select[Any]:
    """The batches ``viewer`` may ``action`` (the policy: their own, their teams'; admins and the
    console, ``None``, every one)."""
    if viewer is None or viewer.is_admin:
        return query
    return query.where(visible_clause(viewer, Resource.BATCH, Batch.owner_id, Batch.team_id, action))


def visible_batch(
    session: Session, batch_id: int, viewer: Viewer | None, action: Action = Action.VIEW
) -> Batch:
    """The batch, if ``viewer`` may ``action`` it; else BatchNotFound (as for no batch at all)."""
    if not 0 < batch_id <= MAX_BATCH_ID:
        raise BatchNotFound(f"no batch {batch_id}")
    batch = session.scalar(visible(select(Batch).where(Batch.id == batch_id), viewer, action))
    if batch is None:
        raise BatchNotFound(f"no batch {batch_id}")
    return batch


def failed_devices(session: Session, batch_id: int, limit: int = MAX_FAILED_SHOWN) -> list[str]:
    """The names of the batch's failed children (``ix_job_logs_batch_status``), by name."""
    query = (
        select(JobLog.device)
        .where(JobLog.batch_id == batch_id, JobLog.status == JobStatus.FAILED.value)
        .order_by(JobLog.device)
        .limit(limit)
    )
    return [name for name in session.scalars(query) if name is not None]


def describe_batch(session: Session, batch: Batch) -> dict[str, Any]:
    """The batch as ``GET /batches/{id}`` answers: its row, and the failed devices when there are any."""
    body = batch_row(batch)
    body["failed_devices"] = failed_devices(session, batch.id) if batch.failed else []
    return body


def batch_page(session: Session, viewer: Viewer | None, limit: int, offset: int) -> tuple[list[Batch], int]:
    """A page of the batches ``viewer`` may see, newest first, and how many there are."""
    query = visible(select(Batch), viewer)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Batch.created_at.desc(), Batch.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total


def children_page(session: Session, batch_id: int, order: str, limit: int, offset: int) -> list[Row[Any]]:
    """A page of the batch's children (``ix_job_logs_batch_status``) in one of ``CHILD_ORDERS``:
    what a table of them shows, without their arguments or results."""
    query = (
        select(
            JobLog.id,
            JobLog.device,
            JobLog.status,
            JobLog.attempts,
            JobLog.duration_seconds,
            JobLog.error_type,
            JobLog.error_message,
        )
        .where(JobLog.batch_id == batch_id)
        .order_by(*CHILD_ORDERS[order])
    )
    return list(session.execute(query.limit(limit).offset(offset)))
