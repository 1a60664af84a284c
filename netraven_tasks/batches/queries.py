"""Reading batches: one row per batch (its counters), the failed devices through the children's index."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session

from netraven_tasks.batches.counters import batch_row
from netraven_tasks.batches.models import Batch
from netraven_tasks.models import JobLog
from netraven_tasks.statuses import JobStatus

MAX_FAILED_SHOWN = 1000


class BatchNotFound(LookupError):
    """No such batch, or not one the caller may see (the same answer, so ids reveal nothing)."""


def visible(query: Select[Any], owner_id: int, is_admin: bool) -> Select[Any]:
    """Admins see every batch, anyone else their own."""
    return query if is_admin else query.where(Batch.owner_id == owner_id)


def visible_batch(session: Session, batch_id: int, owner_id: int, is_admin: bool) -> Batch:
    batch = session.scalar(visible(select(Batch).where(Batch.id == batch_id), owner_id, is_admin))
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


def batch_page(
    session: Session, owner_id: int, is_admin: bool, limit: int, offset: int
) -> tuple[list[Batch], int]:
    """A page of the batches the caller may see, newest first, and how many there are."""
    query = visible(select(Batch), owner_id, is_admin)
    total = session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = session.scalars(
        query.order_by(Batch.created_at.desc(), Batch.id.desc()).limit(limit).offset(offset)
    )
    return list(rows), total
