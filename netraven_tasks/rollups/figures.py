"""The additive figures of a statistics window, and the settled part of them read once per rollup run.

A window's figures are the sum of two parts (``rollups.sources``): the rolled hours, read from the
rollup tables, and the raw edge (the partial hours at its ends and the hours changed since the
last rollup run), read from job logs. The rolled part cannot change until the next rollup run
moves the watermark: that is when a rolled hour is rewritten, and an hour changed in between is
not rolled but raw. So it is kept per process (``settled_cache``), keyed by the database, the
watermark, the rolled hours and the narrowing, and a dashboard polling the same window pays only
for its raw edge. Figures are exact either way; the cache decides how often rollups are read.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from sqlalchemy import ColumnElement, case, select
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.rollups.histogram import bucket_expression, merge_counts
from netraven_tasks.rollups.measures import Measures, raw_measure_columns, summed_measure_columns
from netraven_tasks.rollups.schema import (
    job_rollup_device_failures,
    job_rollup_device_failures_daily,
    job_rollup_durations,
    job_rollup_durations_daily,
    job_rollups,
    job_rollups_daily,
)
from netraven_tasks.rollups.settled_cache import settled_cache
from netraven_tasks.rollups.sources import WindowSources
from netraven_tasks.rollups.time_buckets import DAY, epoch_bucket
from netraven_tasks.statuses import JobStatus


@dataclass
class WindowFigures:
    """Additive figures of some runs: measures by (job type, status), the log-scale duration
    histogram ({"<bucket>": runs}), runs by (series bucket start, status), failed runs by device."""

    measures: dict[tuple[str, str], Measures] = field(default_factory=dict)
    durations: dict[str, int] = field(default_factory=dict)
    series: dict[tuple[int, str], int] = field(default_factory=dict)
    failures: dict[str, int] = field(default_factory=dict)

    def count(self, job_type: str, status: str, series_bucket: int, measures: Measures) -> None:
        """Add one group's measures, and its runs to its series bucket."""
        self.measures.setdefault((job_type, status), Measures()).add(measures)
        key = (series_bucket, status)
        self.series[key] = self.series.get(key, 0) + measures.jobs

    def count_failures(self, device: str, failed: int) -> None:
        self.failures[device] = self.failures.get(device, 0) + failed

    def add(self, other: WindowFigures) -> None:
        """Add ``other``'s measures, durations and series (failures: ``top_failures``)."""
        for key, measures in other.measures.items():
            self.measures.setdefault(key, Measures()).add(measures)
        merge_counts(self.durations, other.durations)
        merge_counts(self.series, other.series)

    @cached_property
    def ranked_failures(self) -> list[tuple[str, int]]:
        """(device, failed runs), most first, then by name (computed once per cached figures)."""
        return sorted(self.failures.items(), key=lambda item: (-item[1], item[0]))

    def top_failures(self, settled: WindowFigures, count: int) -> list[tuple[str, int]]:
        """The ``count`` devices with most failed runs here and in ``settled`` together. These
        (the raw edge) name few devices; a device they do not name can only rank among the top
        ``count`` if it does among ``settled``'s, so only those are merged."""
        candidates = dict(settled.ranked_failures[: count + len(self.failures)])
        for device in self.failures:
            candidates[device] = settled.failures.get(device, 0)
        merged = [(device, failed + self.failures.get(device, 0)) for device, failed in candidates.items()]
        return heapq.nsmallest(count, merged, key=lambda item: (-item[1], item[0]))


def raw_figures(session: Session, where: list[ColumnElement[bool]], bucket_seconds: int) -> WindowFigures:
    """The figures of the raw rows matching ``where``, in one statement: grouped by job type,
    status, series bucket, duration bucket and (for failed runs) device, then summed here."""
    dialect = session.get_bind().dialect.name
    series_bucket = epoch_bucket(dialect, JobLog.queued_at, bucket_seconds).label("bucket")
    duration_bucket = bucket_expression(JobLog.duration_seconds).label("duration_bucket")
    failed_device = case((JobLog.status == JobStatus.FAILED.value, JobLog.device), else_=None).label(
        "failed_device"
    )
    keys = (JobLog.job_type, JobLog.status, series_bucket, duration_bucket, failed_device)
    rows = session.execute(
        select(*keys, *raw_measure_columns(prometheus=False)).where(*where).group_by(*keys)
    ).mappings()
    figures = WindowFigures()
    for row in rows:
        measures = Measures.from_row(row)
        figures.count(row["job_type"], row["status"], int(row["bucket"]), measures)
        if row["duration_bucket"] is not None:
            bucket = str(int(row["duration_bucket"]))
            figures.durations[bucket] = figures.durations.get(bucket, 0) + measures.timed
        if row["failed_device"] is not None:
            figures.count_failures(row["failed_device"], measures.jobs)
    return figures


def settled_figures(session: Session, sources: WindowSources, bucket_seconds: int) -> WindowFigures:
    """The figures of the window's rolled hours (read-only: callers add them, never change them)."""
    if not sources.uses_rollups:
        return WindowFigures()
    where = sources.where
    key = (
        session.get_bind().engine.url.render_as_string(hide_password=True),
        sources.watermark,
        tuple(sources.rolled),
        where.owner_key,
        where.job_type,
        bucket_seconds,
    )
    figures = settled_cache.get(key)
    if figures is None:
        figures = _read_settled(session, sources, bucket_seconds)
        settled_cache.put(key, figures)
    return figures


def _conditions(table: Any, sources: WindowSources, time_condition: ColumnElement[bool]) -> list[Any]:
    conditions = [table.c.owner_key == sources.where.owner_key, time_condition]
    if sources.where.job_type is not None:
        conditions.append(table.c.job_type == sources.where.job_type)
    return conditions


def _parts(
    sources: WindowSources, daily: Any, hourly: Any, *, days: bool = True
) -> list[tuple[Any, Any, list[Any]]]:
    """(table, its period-start column, its conditions) covering the rolled hours: whole days from
    ``daily``, the rest from ``hourly`` (every hour from ``hourly`` when not ``days``)."""
    if not days:
        return [
            (
                hourly,
                hourly.c.hour_start,
                _conditions(hourly, sources, sources.rollup_hours(hourly.c.hour_start)),
            )
        ]
    in_days, in_hours = sources.rollup_days_and_hours(daily.c.day_start, hourly.c.hour_start)
    return [
        (daily, daily.c.day_start, _conditions(daily, sources, in_days)),
        (hourly, hourly.c.hour_start, _conditions(hourly, sources, in_hours)),
    ]


def _read_settled(session: Session, sources: WindowSources, bucket_seconds: int) -> WindowFigures:
    figures = WindowFigures()
    # Series buckets made of days read whole days from the daily table; finer ones read hours.
    for table, start, where in _parts(
        sources, job_rollups_daily, job_rollups, days=bucket_seconds % DAY == 0
    ):
        bucket = ((start // bucket_seconds) * bucket_seconds).label("bucket")
        rows = session.execute(
            select(bucket, table.c.job_type, table.c.status, *summed_measure_columns(table, prometheus=False))
            .where(*where)
            .group_by(bucket, table.c.job_type, table.c.status)
        ).mappings()
        for row in rows:
            figures.count(row["job_type"], row["status"], int(row["bucket"]), Measures.from_row(row))
    for table, _, where in _parts(sources, job_rollup_durations_daily, job_rollup_durations):
        for stored in session.scalars(select(table.c.counts).where(*where)):
            merge_counts(figures.durations, stored)
    for table, _, where in _parts(sources, job_rollup_device_failures_daily, job_rollup_device_failures):
        for device, failed in session.execute(select(table.c.device, table.c.failed).where(*where)):
            figures.count_failures(device, int(failed))
    return figures
