"""What a maintenance window held back: recording it (once) and reading it per run and per user."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.db import insert
from netraven_tasks.maintenance.models import MaintenanceWindow, SuppressedNotification
from netraven_tasks.models import utcnow


def record_key(
    window_id: int,
    *,
    event: str,
    job_log_id: int | None,
    schedule_id: int | None,
    device: str | None,
    user_id: int | None,
    route_id: int | None,
) -> str:
    """One record per (window, recipient, run or scope, event): planning the same outcome twice
    records it once."""
    recipient = f"user:{user_id}" if user_id is not None else f"route:{route_id}"
    subject = f"job:{job_log_id}" if job_log_id is not None else f"schedule:{schedule_id}:{device or ''}"
    return f"{window_id}:{recipient}:{subject}:{event}"[:400]


def record_suppressed(
    session: Session,
    window: MaintenanceWindow,
    *,
    event: str,
    job_log_id: int | None = None,
    schedule_id: int | None = None,
    device: str | None = None,
    user_id: int | None = None,
    route_id: int | None = None,
) -> None:
    """Record that ``window`` held back the ``event`` message for one recipient (a user or a
    route), instead of enqueueing it; a second call for the same message adds nothing."""
    key = record_key(
        window.id,
        event=event,
        job_log_id=job_log_id,
        schedule_id=schedule_id,
        device=device,
        user_id=user_id,
        route_id=route_id,
    )
    session.execute(
        insert(session, SuppressedNotification)
        .values(
            window_id=window.id,
            job_log_id=job_log_id,
            schedule_id=schedule_id,
            device=device[:255] if device else None,
            event=event,
            user_id=user_id,
            route_id=route_id,
            record_key=key,
            at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["record_key"])
    )


@dataclass(frozen=True)
class SuppressedItem:
    """A suppressed record as readers show it: with its window's reason."""

    id: int
    window_id: int
    reason: str
    event: str
    job_log_id: int | None
    schedule_id: int | None
    device: str | None
    user_id: int | None
    route_id: int | None
    at: datetime


def _items(session: Session, where: object) -> list[SuppressedItem]:
    query = (
        select(SuppressedNotification, MaintenanceWindow.reason)
        .join(MaintenanceWindow, MaintenanceWindow.id == SuppressedNotification.window_id)
        .where(where)  # type: ignore[arg-type]
        .order_by(SuppressedNotification.at, SuppressedNotification.id)
    )
    return [
        SuppressedItem(
            id=row.id,
            window_id=row.window_id,
            reason=reason,
            event=row.event,
            job_log_id=row.job_log_id,
            schedule_id=row.schedule_id,
            device=row.device,
            user_id=row.user_id,
            route_id=row.route_id,
            at=row.at,
        )
        for row, reason in session.execute(query)
    ]


def suppressed_for_run(
    session: Session, job_log_id: int, *, user_id: int | None = None
) -> list[SuppressedItem]:
    """What windows held back about one run, oldest first: for everyone, or for one user (what
    they would have received)."""
    where = SuppressedNotification.job_log_id == job_log_id
    if user_id is not None:
        where = where & (SuppressedNotification.user_id == user_id)
    return _items(session, where)


def suppressed_by_ids(session: Session, ids: list[int]) -> dict[int, SuppressedItem]:
    """Records by id (a page of a user's notifications names them)."""
    if not ids:
        return {}
    return {item.id: item for item in _items(session, SuppressedNotification.id.in_(ids))}
