"""Queries over job logs for the API: filters, visibility, newest-first pages, active runs."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, select, text
from sqlalchemy.orm import Session, selectinload, sessionmaker

from api.job_log_rows import list_select
from api.pagination import page_window
from netraven_tasks.access.policy import Resource, Viewer, visible_clause
from netraven_tasks.models import JobLog
from netraven_tasks.statuses import ACTIVE_STATUSES

MAX_ID = 2**63 - 1  # BIGINT: a larger id cannot exist (and would make PostgreSQL raise)
# Above this many job logs the unfiltered list's total is PostgreSQL's row estimate, not a COUNT(*).
ESTIMATE_ABOVE = 100_000


@dataclass(frozen=True)
class JobLogFilter:
    viewer: Viewer | None  # whose runs: what the policy lets them see (None: every run, for the system)
    statuses: Sequence[str] = ()
    job_type: str | None = None
    device: str | None = None
    owner_id: int | None = None  # None: every owner they may see
    since: datetime | None = None
    until: datetime | None = None
    schedule_id: int | None = None  # schedules: the runs one schedule launched
    batch_id: int | None = None  # fleet runs: the children of one batch

    def apply(self, query: Select[tuple[JobLog]]) -> Select[tuple[JobLog]]:
        if self.viewer is not None and not self.viewer.is_admin:
            query = query.where(visible_clause(self.viewer, Resource.RUN, JobLog.owner_id, JobLog.team_id))
        if self.statuses:
            query = query.where(JobLog.status.in_(list(self.statuses)))
        if self.job_type is not None:
            query = query.where(JobLog.job_type == self.job_type)
        if self.device is not None:
            query = query.where(JobLog.device == self.device)
        if self.owner_id is not None:
            query = query.where(JobLog.owner_id == self.owner_id)
        if self.since is not None:
            query = query.where(JobLog.queued_at >= self.since)
        if self.until is not None:
            query = query.where(JobLog.queued_at < self.until)
        if self.schedule_id is not None:
            query = query.where(JobLog.schedule_id == self.schedule_id)
        if self.batch_id is not None:
            query = query.where(JobLog.batch_id == self.batch_id)
        return query

    @property
    def everything(self) -> bool:
        """No filter at all (an admin's unfiltered list)."""
        scoped = self.viewer is not None and not self.viewer.is_admin
        return (
            not scoped
            and not self.statuses
            and all(
                value is None
                for value in (
                    self.job_type,
                    self.device,
                    self.owner_id,
                    self.since,
                    self.until,
                    self.schedule_id,
                    self.batch_id,
                )
            )
        )


def _count(session: Session, where: JobLogFilter) -> int:
    return session.scalar(where.apply(select(func.count()).select_from(JobLog))) or 0  # type: ignore[arg-type]


def estimated_job_logs(session: Session) -> int | None:
    """PostgreSQL's estimate of the job logs (kept by autovacuum's ANALYZE), or None if unknown."""
    if session.get_bind().dialect.name != "postgresql":
        return None
    estimate = session.scalar(text("SELECT reltuples FROM pg_class WHERE oid = 'job_logs'::regclass"))
    return int(estimate) if estimate is not None and estimate >= 0 else None


def total_of(session: Session, where: JobLogFilter) -> tuple[int, bool]:
    """How many job logs match, and whether that is an estimate: an unfiltered list of a big table
    takes the planner's row estimate, since COUNT(*) reads every row (half a second at 10M)."""
    if where.everything:
        estimate = estimated_job_logs(session)
        if estimate is not None and estimate > ESTIMATE_ABOVE:
            return estimate, True
    return _count(session, where), False


def _newest_first(oldest_first: bool) -> tuple[Any, ...]:
    return (JobLog.queued_at, JobLog.id) if oldest_first else (JobLog.queued_at.desc(), JobLog.id.desc())


def list_page(
    session: Session, where: JobLogFilter, page: int, page_size: int, *, oldest_first: bool = False
) -> list[Any]:
    """One page of lean list rows (``api.job_log_rows``), newest first (or oldest first)."""
    window = page_window(page, page_size)
    if window is None:
        return []
    query = where.apply(list_select()).order_by(*_newest_first(oldest_first))
    return list(session.execute(query.limit(window[0]).offset(window[1])))


def every_row(sessions: sessionmaker[Session], where: JobLogFilter, chunk: int = 1000) -> Iterator[Any]:
    """Every matching lean list row, newest first, read ``chunk`` rows at a time (a server-side
    cursor on PostgreSQL) in a session of its own, closed when the rows end or the reader stops
    (a streamed answer outlives its request's session): for exports, whatever their size."""
    query = where.apply(list_select()).order_by(*_newest_first(False))
    with sessions() as session:
        yield from session.execute(query.execution_options(yield_per=chunk))


def active_filter(viewer: Viewer | None) -> JobLogFilter:
    """Queued, running and retrying runs (those ``viewer`` may see)."""
    return JobLogFilter(viewer, statuses=sorted(ACTIVE_STATUSES))


def page_of_job_logs(
    session: Session, where: JobLogFilter, page: int, page_size: int, *, oldest_first: bool = False
) -> tuple[list[JobLog], int]:
    """One page of job logs, newest first (or oldest first), and how many match in all."""
    total = _count(session, where)
    window = page_window(page, page_size)
    if window is None:
        return [], total
    query = (
        where.apply(select(JobLog)).options(selectinload(JobLog.owner)).order_by(*_newest_first(oldest_first))
    )
    return list(session.scalars(query.limit(window[0]).offset(window[1]))), total


def job_log_with_entries(session: Session, job_log_id: int) -> JobLog | None:
    if not 0 < job_log_id <= MAX_ID:
        return None
    query = (
        select(JobLog)
        .where(JobLog.id == job_log_id)
        .options(selectinload(JobLog.entries), selectinload(JobLog.owner))
    )
    return session.scalar(query)


def active_job_logs(
    session: Session, viewer: Viewer | None, page: int, page_size: int
) -> tuple[list[JobLog], int]:
    """Queued, running and retrying runs, oldest first (the ones waiting longest lead)."""
    return page_of_job_logs(session, active_filter(viewer), page, page_size, oldest_first=True)
