"""Retention: delete finished job logs (and their entries) past NETRAVEN_RETENTION_DAYS, and rollups
past NETRAVEN_ROLLUP_RETENTION_DAYS.

Raw rows go in small batches, each its own short transaction, so writers (the recorder, launches)
never queue behind one long delete. Their hours stay in the rollups, so statistics over a year keep
working after the raw rows are gone; the rollup job leaves purged hours alone (``keep_raw_from``).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

from sqlalchemy import CursorResult, delete, select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.audit.models import AuditEvent
from netraven_tasks.models import JobLog
from netraven_tasks.rollups.schema import DAILY_TABLES, HOURLY_TABLES
from netraven_tasks.rollups.settled_cache import settled_cache
from netraven_tasks.rollups.time_buckets import at, hour_ceil
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import TERMINAL_STATUSES

log = logging.getLogger(__name__)

BATCH_SIZE = 2000


@dataclass(frozen=True)
class PurgeReport:
    job_logs: int
    rollup_rows: int
    batches: int
    audit_events: int = 0


def raw_cutoff(settings: Settings, now: datetime) -> datetime:
    return now - timedelta(days=settings.retention_days)


def keep_raw_from(settings: Settings, now: datetime) -> datetime:
    """The first hour whose raw rows are all still kept (earlier hours may be partly purged)."""
    return at(hour_ceil(raw_cutoff(settings, now)))


def purge_job_logs(sessions: sessionmaker[Session], cutoff: datetime, batch_size: int = BATCH_SIZE,
                   between_batches: Callable[[], None] = lambda: None) -> tuple[int, int]:  # fmt: skip
    """Delete finished runs queued before ``cutoff``, oldest first, ``batch_size`` per transaction.

    Entries and digest items go with them (ON DELETE CASCADE); outbox rows keep their text.
    """
    deleted = batches = 0
    terminal = [status.value for status in TERMINAL_STATUSES]
    while True:
        with sessions.begin() as session:
            ids = list(
                session.scalars(
                    select(JobLog.id)
                    .where(JobLog.queued_at < cutoff, JobLog.status.in_(terminal))
                    .order_by(JobLog.queued_at)
                    .limit(batch_size)
                )
            )
            if ids:
                session.execute(
                    delete(JobLog).where(JobLog.id.in_(ids)), execution_options={"synchronize_session": False}
                )
        if not ids:
            return deleted, batches
        deleted += len(ids)
        batches += 1
        between_batches()


def purge_rollups(session: Session, cutoff: datetime) -> int:
    """Delete rollup hours before ``cutoff``; the running totals of /metrics keep them."""
    boundary = int(cutoff.timestamp())
    settled_cache.clear()
    removed = 0
    for table in HOURLY_TABLES:
        result = cast(CursorResult[Any], session.execute(delete(table).where(table.c.hour_start < boundary)))
        removed += result.rowcount or 0
    day_boundary = boundary // 86400 * 86400  # a day is dropped once it has no hour left
    for table in DAILY_TABLES:
        result = cast(
            CursorResult[Any], session.execute(delete(table).where(table.c.day_start < day_boundary))
        )
        removed += result.rowcount or 0
    return removed


def purge_expired(settings: Settings, sessions: sessionmaker[Session], now: datetime,
                  batch_size: int = BATCH_SIZE) -> PurgeReport:  # fmt: skip
    job_logs, batches = purge_job_logs(sessions, raw_cutoff(settings, now), batch_size)
    with sessions.begin() as session:
        rollup_rows = purge_rollups(session, now - timedelta(days=settings.rollup_retention_days))
        audit_cutoff = now - timedelta(days=settings.audit_retention_days)
        audit_events = cast(
            CursorResult[Any], session.execute(delete(AuditEvent).where(AuditEvent.at < audit_cutoff))
        ).rowcount
    if job_logs or rollup_rows or audit_events:
        log.info(
            "retention: deleted %d job logs (%d batches), %d rollup rows, %d audit events",
            job_logs, batches, rollup_rows, audit_events,
        )  # fmt: skip
    return PurgeReport(job_logs, rollup_rows, batches, audit_events or 0)
