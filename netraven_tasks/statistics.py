"""Job statistics over a time window, computed by the database in a handful of aggregate queries.

No job-log row is loaded into Python: counts, averages, percentiles and time buckets are SQL
aggregates. Percentiles use ``percentile_cont`` on PostgreSQL; SQLite has no ordered-set
aggregates, so there the same linear interpolation is done with window functions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, case, cast, func, literal, select
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
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


def _conditions(window: StatisticsWindow) -> list[ColumnElement[bool]]:
    conditions = [JobLog.queued_at >= window.since, JobLog.queued_at < window.until]
    if window.job_type is not None:
        conditions.append(JobLog.job_type == window.job_type)
    if window.device is not None:
        conditions.append(JobLog.device == window.device)
    if window.owner_id is not None:
        conditions.append(JobLog.owner_id == window.owner_id)
    return conditions


def _count_where(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _success_rate(completed: int, finished: int) -> float | None:
    return round(100.0 * completed / finished, 2) if finished else None


def _percentiles(session: Session, window: StatisticsWindow) -> dict[str, float | None]:
    where = [*_conditions(window), JobLog.duration_seconds.is_not(None)]
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


def _bucket_start(session: Session, width: int) -> ColumnElement[int]:
    """Seconds since the epoch of the start of the bucket a job was queued in (buckets are UTC-aligned)."""
    if session.get_bind().dialect.name == "postgresql":
        epoch = func.extract("epoch", JobLog.queued_at)
        return cast(func.floor(epoch / width) * width, BigInteger)
    epoch_seconds = cast(func.strftime("%s", JobLog.queued_at), Integer)
    return (epoch_seconds // width) * width  # floor division (times after 1970 are positive)


def _series(session: Session, window: StatisticsWindow) -> list[dict[str, Any]]:
    width = window.bucket_seconds
    bucket = _bucket_start(session, width).label("bucket")
    rows = session.execute(
        select(bucket, JobLog.status, func.count().label("n"))
        .where(*_conditions(window))
        .group_by(bucket, JobLog.status)
    ).all()
    counts: dict[int, dict[str, int]] = {}
    for start, status, n in rows:
        counts.setdefault(int(start), {})[status] = int(n)
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


def compute_statistics(session: Session, window: StatisticsWindow) -> dict[str, Any]:
    """Totals, success rate, duration percentiles, per-type figures, failing devices and a series."""
    status = JobLog.status
    duration = JobLog.duration_seconds
    conditions = _conditions(window)
    totals = session.execute(
        select(
            func.count().label("total"),
            _count_where(status == JobStatus.COMPLETED.value).label("completed"),
            _count_where(status == JobStatus.FAILED.value).label("failed"),
            _count_where(status == JobStatus.CANCELED.value).label("canceled"),
            _count_where(status.in_([s.value for s in ACTIVE_STATUSES])).label("active"),
            _count_where(JobLog.attempts > 1).label("retried"),
            func.avg(duration).label("avg"),
            func.max(duration).label("max"),
        ).where(*conditions)
    ).one()
    finished = int(totals.completed) + int(totals.failed) + int(totals.canceled)

    per_type = session.execute(
        select(
            JobLog.job_type,
            func.count().label("total"),
            _count_where(status == JobStatus.COMPLETED.value).label("completed"),
            _count_where(status == JobStatus.FAILED.value).label("failed"),
            _count_where(status == JobStatus.CANCELED.value).label("canceled"),
            func.avg(duration).label("avg_duration"),
        )
        .where(*conditions)
        .group_by(JobLog.job_type)
        .order_by(JobLog.job_type)
    ).all()

    failed_count = _count_where(status == JobStatus.FAILED.value)
    devices = session.execute(
        select(JobLog.device, failed_count.label("failed"), func.count().label("total"))
        .where(*conditions, JobLog.device.is_not(None))
        .group_by(JobLog.device)
        .having(failed_count > 0)
        .order_by(failed_count.desc(), JobLog.device)
        .limit(TOP_FAILING_DEVICES)
    ).all()

    return {
        "time_period": window.time_period,
        "since": window.since,
        "until": window.until,
        "bucket_seconds": window.bucket_seconds,
        "total_jobs": int(totals.total),
        "completed_jobs": int(totals.completed),
        "failed_jobs": int(totals.failed),
        "canceled_jobs": int(totals.canceled),
        "running_jobs": int(totals.active),
        "retried_jobs": int(totals.retried),
        "success_rate": _success_rate(int(totals.completed), finished),
        "duration_seconds": {
            "avg": float(totals.avg) if totals.avg is not None else None,
            **_percentiles(session, window),
            "max": float(totals.max) if totals.max is not None else None,
        },
        "job_types": {
            row.job_type: {
                "total": int(row.total),
                "completed": int(row.completed),
                "failed": int(row.failed),
                "success_rate": _success_rate(
                    int(row.completed), int(row.completed) + int(row.failed) + int(row.canceled)
                ),
                "avg_duration": float(row.avg_duration) if row.avg_duration is not None else None,
            }
            for row in per_type
        },
        "top_failing_devices": [
            {"device": row.device, "failed": int(row.failed), "total": int(row.total)} for row in devices
        ],
        "series": _series(session, window),
    }
