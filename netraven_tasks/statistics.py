"""Job statistics over a time window: hourly rollups for settled hours, raw job logs for the rest.

No job-log row is loaded into Python: counts, averages, histograms and time buckets are SQL
aggregates over the rollups and over the raw rows of the window's edges (one statement), added
together here (``rollups.figures``; the rolled part is read once per rollup run). Percentiles are
exact (``percentile_cont`` on PostgreSQL, the same interpolation with window functions on SQLite)
when only raw rows answer, and read from the log-scale duration histogram (within 5 %) once
rollups take part.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func, literal, select
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.rollups.figures import raw_figures, settled_figures
from netraven_tasks.rollups.histogram import as_buckets, estimate_percentile
from netraven_tasks.rollups.measures import Measures
from netraven_tasks.rollups.sources import WindowFilter, WindowSources, plan_sources
from netraven_tasks.rollups.time_buckets import without_parallel_workers
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


def _histogram_percentiles(durations: dict[str, int], overall: Measures) -> dict[str, float | None]:
    if overall.duration_min is None or overall.duration_max is None:
        return dict.fromkeys(PERCENTILES)
    buckets = as_buckets(durations)
    return {
        name: estimate_percentile(buckets, q, overall.duration_min, overall.duration_max)
        for name, q in PERCENTILES.items()
    }


def _series(window: StatisticsWindow, counts: dict[tuple[int, str], int]) -> list[dict[str, Any]]:
    width = window.bucket_seconds
    first = int(window.since.timestamp()) // width * width
    series = []
    for start in range(first, math.ceil(window.until.timestamp()), width):
        by_status = {status.value: counts.get((start, status.value), 0) for status in JobStatus}
        bucket_row: dict[str, Any] = {
            "start": datetime.fromtimestamp(start, UTC),
            "end": datetime.fromtimestamp(start + width, UTC),
            "total": sum(by_status.values()),
        }
        bucket_row.update(by_status)
        series.append(bucket_row)
    return series


def _top_failing_devices(
    session: Session, where: WindowFilter, top: list[tuple[str, int]]
) -> list[dict[str, Any]]:
    """The devices with most failed runs; their totals are counted on the raw rows (kept for the
    retention period: rollups keep failures per device, not every run per device)."""
    if not top:
        return []
    totals = dict(
        session.execute(
            select(JobLog.device, func.count())
            .where(*where.raw_conditions(), JobLog.device.in_([device for device, _ in top]))
            .group_by(JobLog.device)
        ).all()
    )
    return [
        {"device": device, "failed": failed, "total": max(int(totals.get(device, 0)), failed)}
        for device, failed in top
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
    figures = raw_figures(session, sources.raw_where, window.bucket_seconds)
    settled = settled_figures(session, sources, window.bucket_seconds)
    figures.add(settled)
    overall = Measures()
    count: dict[str, int] = {}
    for (_, status), measures in figures.measures.items():
        overall.add(measures)
        count[status] = count.get(status, 0) + measures.jobs
    completed, failed, canceled = (count.get(s.value, 0) for s in FINISHED_ORDER)
    if sources.uses_rollups:
        percentiles = _histogram_percentiles(figures.durations, overall)
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
        "job_types": _job_type_figures(figures.measures),
        "top_failing_devices": _top_failing_devices(
            session, where, figures.top_failures(settled, TOP_FAILING_DEVICES)
        ),
        "series": _series(window, figures.series),
    }
