"""Job statistics over a time window: hourly rollups for settled hours, raw job logs for the rest.

No job-log row is loaded into Python: counts, averages, histograms and time buckets are SQL
aggregates over the rollups (``netraven_tasks.rollups``) and over the raw rows of the window's
edges, added together here. Percentiles are exact (``percentile_cont`` on PostgreSQL, the same
interpolation with window functions on SQLite) when only raw rows answer, and read from the
log-scale duration histogram (within 5 %) once rollups take part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, literal, select, union_all
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.rollups.histogram import as_buckets, bucket_expression, estimate_percentile, merge_counts
from netraven_tasks.rollups.measures import Measures, raw_measure_columns, summed_measure_columns
from netraven_tasks.rollups.schema import (
    job_rollup_device_failures,
    job_rollup_device_failures_daily,
    job_rollup_durations,
    job_rollup_durations_daily,
    job_rollups,
    job_rollups_daily,
)
from netraven_tasks.rollups.sources import WindowFilter, WindowSources, plan_sources
from netraven_tasks.rollups.time_buckets import epoch_bucket, without_parallel_workers
from netraven_tasks.statuses import ACTIVE_STATUSES, JobStatus

PERIODS: dict[str, timedelta] = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
    "year": timedelta(days=365),
}
DEFAULT_PERIOD = "day"
MAX_SPAN = timedelta(days=400)
TOP_FAILING_DEVICES = 10
PERCENTILES = {"p50": 0.5, "p95": 0.95}
FINISHED_ORDER = (JobStatus.COMPLETED, JobStatus.FAILED, JobStatus.CANCELED)

MINUTES_5, HOUR, DAY, WEEK = 300, 3600, 86400, 7 * 86400
_PERIOD_BUCKETS = {"hour": MINUTES_5, "day": HOUR, "week": DAY, "month": DAY, "year": WEEK}


class StatisticsError(ValueError):
    """The window asked for cannot be served; ``field`` names the query parameter at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class StatisticsWindow:
    """What to count: jobs queued in ``[since, until)``, optionally narrowed, in buckets of a width."""

    time_period: str  # hour|day|week|month|year, or "custom" for an explicit since/until
    since: datetime
    until: datetime
    bucket_seconds: int
    job_type: str | None = None
    device: str | None = None
    owner_id: int | None = None  # None: every owner's jobs


def bucket_width(span: timedelta) -> int:
    """A bucket width giving a readable series (at most ~100 buckets) for a custom window."""
    if span <= timedelta(hours=2):
        return MINUTES_5
    if span <= timedelta(days=2):
        return HOUR
    if span <= timedelta(days=93):
        return DAY
    return WEEK


def make_window(
    now: datetime,
    time_period: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    *,
    job_type: str | None = None,
    device: str | None = None,
    owner_id: int | None = None,
) -> StatisticsWindow:
    """The window to count: ``since`` (default: ``time_period`` before ``until``) to ``until`` (default now).

    Without ``since`` the window is the named period (hourly buckets for a day, daily for a week or a
    month, …); with ``since`` it is "custom" and the bucket width follows its span. At most 400 days.
    """
    if time_period is not None and time_period not in PERIODS:
        raise StatisticsError("time_period", f"must be one of {', '.join(PERIODS)}")
    period = time_period or DEFAULT_PERIOD
    end = until or now
    start = since or (end - PERIODS[period])
    if start >= end:
        raise StatisticsError("until", "must be later than since")
    if end - start > MAX_SPAN:
        raise StatisticsError("since", f"the window may span at most {MAX_SPAN.days} days")
    if since is None:
        name, width = period, _PERIOD_BUCKETS[period]
    else:
        name, width = "custom", bucket_width(end - start)
    return StatisticsWindow(name, start, end, width, job_type, device, owner_id)


def _window_filter(window: StatisticsWindow) -> WindowFilter:
    return WindowFilter(window.since, window.until, window.job_type, window.device, window.owner_id)


def _success_rate(completed: int, finished: int) -> float | None:
    return round(100.0 * completed / finished, 2) if finished else None


def _rollup_filter(
    table: Any, sources: WindowSources, time: ColumnElement[bool] | None = None
) -> list[ColumnElement[bool]]:
    conditions = [table.c.owner_key == sources.where.owner_key]
    conditions.append(sources.rollup_hours(table.c.hour_start) if time is None else time)
    if sources.where.job_type is not None:
        conditions.append(table.c.job_type == sources.where.job_type)
    return conditions


def _daily_and_hourly_parts(sources: WindowSources, daily: Any, hourly: Any) -> list[tuple[Any, Any]]:
    """(table, its time condition) pairs covering the rolled hours: whole days from ``daily``,
    the rest from ``hourly``."""
    in_days, in_hours = sources.rollup_days_and_hours(daily.c.day_start, hourly.c.hour_start)
    return [(daily, in_days), (hourly, in_hours)]


def _daily_and_hourly(sources: WindowSources, daily: Any, hourly: Any, *columns: str) -> list[Any]:
    """SELECTs of ``columns`` over the rolled hours: whole days from ``daily``, the rest from ``hourly``."""
    return [
        select(*[table.c[name] for name in columns]).where(*_rollup_filter(table, sources, time))
        for table, time in _daily_and_hourly_parts(sources, daily, hourly)
    ]


def _measures_by_type_and_status(session: Session, sources: WindowSources) -> dict[tuple[str, str], Measures]:
    groups: dict[tuple[str, str], Measures] = {}
    raw = session.execute(
        select(JobLog.job_type, JobLog.status, *raw_measure_columns(prometheus=False))
        .where(*sources.raw_where)
        .group_by(JobLog.job_type, JobLog.status)
    ).mappings()
    rows = list(raw)
    if sources.uses_rollups:
        for table, time in _daily_and_hourly_parts(sources, job_rollups_daily, job_rollups):
            rows += session.execute(
                select(table.c.job_type, table.c.status, *summed_measure_columns(table, prometheus=False))
                .where(*_rollup_filter(table, sources, time))
                .group_by(table.c.job_type, table.c.status)
            ).mappings()
    for row in rows:
        groups.setdefault((row["job_type"], row["status"]), Measures()).add(Measures.from_row(row))
    return groups


def _exact_percentiles(session: Session, where: list[ColumnElement[bool]]) -> dict[str, float | None]:
    where = [*where, JobLog.duration_seconds.is_not(None)]
    if session.get_bind().dialect.name == "postgresql":
        columns = [
            func.percentile_cont(q).within_group(JobLog.duration_seconds.asc()).label(name)
            for name, q in PERCENTILES.items()
        ]
        row = session.execute(select(*columns).where(*where)).one()
    else:
        # percentile_cont by hand: value at position q*(n-1) of the sorted durations, interpolated.
        ordered = (
            select(
                JobLog.duration_seconds.label("d"),
                (func.row_number().over(order_by=JobLog.duration_seconds) - 1).label("rn"),
                func.count().over().label("n"),
            )
            .where(*where)
            .subquery()
        )
        columns = []
        for name, q in PERCENTILES.items():
            position = literal(q) * (ordered.c.n - 1)
            lower = cast(position, Integer)  # positions are >= 0, so truncation is floor
            fraction = position - lower
            interpolated = case(
                (ordered.c.rn == lower, ordered.c.d * (1 - fraction)),
                (ordered.c.rn == lower + 1, ordered.c.d * fraction),
                else_=0,
            )
            columns.append(func.sum(interpolated).label(name))
        row = session.execute(select(*columns).select_from(ordered)).one()
    return {name: (float(value) if value is not None else None) for name, value in row._mapping.items()}


def _histogram_percentiles(
    session: Session, sources: WindowSources, overall: Measures
) -> dict[str, float | None]:
    bucket = bucket_expression(JobLog.duration_seconds).label("bucket")
    counts: dict[str, int] = {}
    raw = session.execute(
        select(bucket, func.count())
        .where(*sources.raw_where, JobLog.duration_seconds.is_not(None))
        .group_by(bucket)
    ).all()
    merge_counts(counts, {str(int(index)): int(n) for index, n in raw})
    for part in _daily_and_hourly(sources, job_rollup_durations_daily, job_rollup_durations, "counts"):
        for stored in session.scalars(part):
            merge_counts(counts, stored)
    if overall.duration_min is None or overall.duration_max is None:
        return dict.fromkeys(PERCENTILES)
    buckets = as_buckets(counts)
    return {
        name: estimate_percentile(buckets, q, overall.duration_min, overall.duration_max)
        for name, q in PERCENTILES.items()
    }


def _series(session: Session, window: StatisticsWindow, sources: WindowSources) -> list[dict[str, Any]]:
    width = window.bucket_seconds
    bucket = epoch_bucket(session.get_bind().dialect.name, JobLog.queued_at, width).label("bucket")
    rows = list(
        session.execute(
            select(bucket, JobLog.status, func.count().label("n"))
            .where(*sources.raw_where)
            .group_by(bucket, JobLog.status)
        ).all()
    )
    if sources.uses_rollups:
        # Whole days from the daily table when a bucket is made of days; hours otherwise.
        parts = (
            _daily_and_hourly_parts(sources, job_rollups_daily, job_rollups)
            if width % DAY == 0
            else [(job_rollups, None)]
        )
        for table, time in parts:
            start = table.c.day_start if table is job_rollups_daily else table.c.hour_start
            rolled_bucket = ((start // width) * width).label("bucket")
            rows += session.execute(
                select(rolled_bucket, table.c.status, func.sum(table.c.jobs).label("n"))
                .where(*_rollup_filter(table, sources, time))
                .group_by(rolled_bucket, table.c.status)
            ).all()
    counts: dict[int, dict[str, int]] = {}
    for start, status, n in rows:
        by_status = counts.setdefault(int(start), {})
        by_status[status] = by_status.get(status, 0) + int(n)
    first = int(window.since.timestamp()) // width * width
    series = []
    for start in range(first, math.ceil(window.until.timestamp()), width):
        by_status = counts.get(start, {})
        bucket_row: dict[str, Any] = {
            "start": datetime.fromtimestamp(start, UTC),
            "end": datetime.fromtimestamp(start + width, UTC),
            "total": sum(by_status.values()),
        }
        bucket_row.update({status.value: by_status.get(status.value, 0) for status in JobStatus})
        series.append(bucket_row)
    return series


def _top_failing_devices(session: Session, sources: WindowSources) -> list[dict[str, Any]]:
    """The devices with most failed runs; their totals are counted on the raw rows (kept for the
    retention period: rollups keep failures per device, not every run per device)."""
    failed_raw = select(JobLog.device.label("device"), literal(1).label("failed")).where(
        *sources.raw_where, JobLog.status == JobStatus.FAILED.value, JobLog.device.is_not(None)
    )
    parts = [failed_raw]
    if sources.uses_rollups:
        parts += _daily_and_hourly(
            sources, job_rollup_device_failures_daily, job_rollup_device_failures, "device", "failed"
        )
    failures = union_all(*parts).subquery()
    failed_count = func.sum(failures.c.failed)
    top = session.execute(
        select(failures.c.device, failed_count.label("failed"))
        .group_by(failures.c.device)
        .order_by(failed_count.desc(), failures.c.device)
        .limit(TOP_FAILING_DEVICES)
    ).all()
    if not top:
        return []
    devices = [row.device for row in top]
    totals = dict(
        session.execute(
            select(JobLog.device, func.count())
            .where(*sources.where.raw_conditions(), JobLog.device.in_(devices))
            .group_by(JobLog.device)
        ).all()
    )
    return [
        {
            "device": row.device,
            "failed": int(row.failed),
            "total": max(int(totals.get(row.device, 0)), int(row.failed)),
        }
        for row in top
    ]


def _job_type_figures(measures: dict[tuple[str, str], Measures]) -> dict[str, dict[str, Any]]:
    by_type: dict[str, dict[str, Measures]] = {}
    for (job_type, status), figures in measures.items():
        by_type.setdefault(job_type, {})[status] = figures
    result = {}
    for job_type in sorted(by_type):
        statuses = by_type[job_type]
        count = {status: figures.jobs for status, figures in statuses.items()}
        timed = sum(f.timed for f in statuses.values())
        completed, failed, canceled = (count.get(s.value, 0) for s in FINISHED_ORDER)
        result[job_type] = {
            "total": sum(count.values()),
            "completed": completed,
            "failed": failed,
            "success_rate": _success_rate(completed, completed + failed + canceled),
            "avg_duration": sum(f.duration_sum for f in statuses.values()) / timed if timed else None,
        }
    return result


def compute_statistics(
    session: Session, window: StatisticsWindow, *, use_rollups: bool = True
) -> dict[str, Any]:
    """Totals, success rate, duration percentiles, per-type figures, failing devices and a series.

    ``use_rollups=False`` reads raw rows only: the reference the rollups are tested against.
    """
    where = _window_filter(window)
    if use_rollups:
        without_parallel_workers(session)
        sources = plan_sources(session, where, window.bucket_seconds)
    else:
        sources = WindowSources(where, [], where.raw_conditions())
    measures = _measures_by_type_and_status(session, sources)
    overall = Measures()
    count: dict[str, int] = {}
    for (_, status), figures in measures.items():
        overall.add(figures)
        count[status] = count.get(status, 0) + figures.jobs
    completed, failed, canceled = (count.get(s.value, 0) for s in FINISHED_ORDER)
    if sources.uses_rollups:
        percentiles = _histogram_percentiles(session, sources, overall)
    else:
        percentiles = _exact_percentiles(session, sources.raw_where)
    return {
        "time_period": window.time_period,
        "since": window.since,
        "until": window.until,
        "bucket_seconds": window.bucket_seconds,
        "total_jobs": overall.jobs,
        "completed_jobs": completed,
        "failed_jobs": failed,
        "canceled_jobs": canceled,
        "running_jobs": sum(count.get(s.value, 0) for s in ACTIVE_STATUSES),
        "retried_jobs": overall.retried,
        "success_rate": _success_rate(completed, completed + failed + canceled),
        "duration_seconds": {
            "avg": overall.duration_sum / overall.timed if overall.timed else None,
            **percentiles,
            "max": overall.duration_max,
        },
        "job_types": _job_type_figures(measures),
        "top_failing_devices": _top_failing_devices(session, sources),
        "series": _series(session, window, sources),
    }
