"""Figures of every job run ever rolled, by job type and status, without a scan of history.

``job_rollup_totals`` sums every rolled hour. Hours changed since the last rollup run are taken
out of it (their rollup rows) and put back from their raw rows; active runs are counted live
through the partial index on active statuses. Cost: the recent changes, not the history.
"""

from __future__ import annotations

from sqlalchemy import ColumnElement, and_, false, or_, select
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.rollups.measures import Measures, raw_measure_columns, summed_measure_columns
from netraven_tasks.rollups.recompute import changed_hours, hour_ranges, read_watermark
from netraven_tasks.rollups.schema import ALL_OWNERS, job_rollup_totals, job_rollups
from netraven_tasks.rollups.time_buckets import at, without_parallel_workers
from netraven_tasks.statuses import ACTIVE_STATUSES

Figures = dict[tuple[str, str], Measures]
NO_LIMIT = 10**9


def raw_job_figures(session: Session, *where: ColumnElement[bool]) -> Figures:
    """Measures by (job type, status) of the raw rows matching ``where`` (all of them: a scan)."""
    rows = session.execute(
        select(JobLog.job_type, JobLog.status, *raw_measure_columns())
        .where(*where)
        .group_by(JobLog.job_type, JobLog.status)
    ).mappings()
    return {(row["job_type"], row["status"]): Measures.from_row(row) for row in rows}


def job_figures(session: Session) -> Figures:
    """Measures by (job type, status) of every run kept in rollups or raw rows."""
    active = [status.value for status in ACTIVE_STATUSES]
    watermark = read_watermark(session)
    if watermark is None:  # never rolled up (a new installation): the raw rows are all there is
        return raw_job_figures(session)
    without_parallel_workers(session)
    figures: Figures = {
        (row["job_type"], row["status"]): Measures.from_row(row)
        for row in session.execute(select(job_rollup_totals)).mappings()
        if row["status"] not in active
    }
    ranges = list(hour_ranges(changed_hours(session, watermark), NO_LIMIT))
    if ranges:
        c = job_rollups.c
        in_changed = or_(false(), *[and_(c.hour_start >= start, c.hour_start < end) for start, end in ranges])
        stale = session.execute(
            select(c.job_type, c.status, *summed_measure_columns(job_rollups))
            .where(c.owner_key == ALL_OWNERS, in_changed, c.status.not_in(active))
            .group_by(c.job_type, c.status)
        ).mappings()
        for row in stale:
            figures.setdefault((row["job_type"], row["status"]), Measures()).subtract(Measures.from_row(row))
        queued = JobLog.queued_at
        raw_changed = or_(false(), *[and_(queued >= at(start), queued < at(end)) for start, end in ranges])
        for key, measures in raw_job_figures(session, raw_changed, JobLog.status.not_in(active)).items():
            figures.setdefault(key, Measures()).add(measures)
    for key, measures in raw_job_figures(session, JobLog.status.in_(active)).items():
        figures[key] = measures
    return figures
