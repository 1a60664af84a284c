"""The rollup job: re-roll, from the raw rows, every hour whose job logs changed since the watermark.

Why recompute whole hours instead of adding each event: an hour rebuilt from its rows is right
however its events arrived (late, twice, out of order, a job queued in one hour and finished in the
next), and the recorder needs no change. Which hours: those holding a row whose ``updated_at`` is
past the stored watermark (minus a lateness margin, for rows written late with an older time).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from netraven_tasks import db
from netraven_tasks.models import JobLog
from netraven_tasks.rollups.histogram import bucket_expression, merge_counts
from netraven_tasks.rollups.measures import Measures, raw_measure_columns, summed_measure_columns
from netraven_tasks.rollups.schema import (
    ALL_OWNERS,
    DAILY_TABLES,
    HOURLY_TABLES,
    NO_OWNER,
    job_rollup_device_failures,
    job_rollup_device_failures_daily,
    job_rollup_durations,
    job_rollup_durations_daily,
    job_rollup_totals,
    job_rollups,
    job_rollups_daily,
    rollup_state,
)
from netraven_tasks.rollups.settled_cache import settled_cache
from netraven_tasks.rollups.time_buckets import DAY, HOUR, at, epoch_bucket
from netraven_tasks.statuses import JobStatus

log = logging.getLogger(__name__)

STATE_NAME = "job_logs"
MAX_HOURS_PER_STATEMENT = 24 * 7  # bounds the rows one aggregate reads when history is re-rolled


@dataclass(frozen=True)
class RollupReport:
    hours: int
    watermark: datetime


def read_watermark(session: Session) -> datetime | None:
    """Every change to job logs up to this time is in the rollups (None: nothing rolled yet)."""
    return session.scalar(select(rollup_state.c.watermark).where(rollup_state.c.name == STATE_NAME))


def changed_hours(session: Session, changed_after: datetime | None) -> list[int]:
    """The hours (epoch seconds) holding a job log changed after ``changed_after`` (None: every hour).

    Read from the ``updated_at`` index alone: the rows changed since the last rollup run (a
    minute's writes) are few, while a ``queued_at`` range beside it made PostgreSQL AND both
    indexes, reading a whole day of ``queued_at`` entries (~160,000 at 10M rows, ~20 ms) to find
    them. Callers that want a window filter the hours.
    """
    hour = epoch_bucket(session.get_bind().dialect.name, JobLog.queued_at, HOUR)
    query = select(hour).distinct()
    if changed_after is not None:
        query = query.where(JobLog.updated_at > changed_after)
    return sorted(int(h) for h in session.scalars(query))


def hour_ranges(hours: Iterable[int], limit: int = MAX_HOURS_PER_STATEMENT) -> Iterator[tuple[int, int]]:
    """Contiguous runs of hours as ``[start, end)`` epoch ranges of at most ``limit`` hours."""
    start = end = None
    for hour in sorted(set(hours)):
        if start is not None and end == hour and (end - start) // HOUR < limit:
            end += HOUR
            continue
        if start is not None and end is not None:
            yield start, end
        start, end = hour, hour + HOUR
    if start is not None and end is not None:
        yield start, end


def _owner_key(owner_id: int | None) -> int:
    return NO_OWNER if owner_id is None else int(owner_id)


def _rolled_measures(session: Session, start: int, end: int) -> dict[tuple[int, str, str, int], Measures]:
    """Figures of the raw rows queued in ``[start, end)`` by hour, job type, status and owner key."""
    dialect = session.get_bind().dialect.name
    hour = epoch_bucket(dialect, JobLog.queued_at, HOUR).label("hour")
    rows = session.execute(
        select(hour, JobLog.job_type, JobLog.status, JobLog.owner_id, *raw_measure_columns())
        .where(JobLog.queued_at >= at(start), JobLog.queued_at < at(end))
        .group_by(hour, JobLog.job_type, JobLog.status, JobLog.owner_id)
    ).mappings()
    groups: dict[tuple[int, str, str, int], Measures] = {}
    for row in rows:
        measures = Measures.from_row(row)
        for owner_key in (_owner_key(row["owner_id"]), ALL_OWNERS):
            key = (int(row["hour"]), row["job_type"], row["status"], owner_key)
            groups.setdefault(key, Measures()).add(measures)
    return groups


def _duration_histograms(
    session: Session, start: int, end: int
) -> dict[tuple[int, str, int], dict[str, int]]:
    """Log-scale histograms of the raw durations in ``[start, end)`` by hour, job type and owner key."""
    dialect = session.get_bind().dialect.name
    hour = epoch_bucket(dialect, JobLog.queued_at, HOUR).label("hour")
    bucket = bucket_expression(JobLog.duration_seconds).label("bucket")
    rows = session.execute(
        select(hour, JobLog.job_type, JobLog.owner_id, bucket, func.count().label("n"))
        .where(
            JobLog.queued_at >= at(start), JobLog.queued_at < at(end), JobLog.duration_seconds.is_not(None)
        )
        .group_by(hour, JobLog.job_type, JobLog.owner_id, bucket)
    )
    histograms: dict[tuple[int, str, int], dict[str, int]] = defaultdict(dict)
    for hour_start, job_type, owner_id, bucket_index, n in rows:
        for owner_key in (_owner_key(owner_id), ALL_OWNERS):
            counts = histograms[(int(hour_start), job_type, owner_key)]
            counts[str(bucket_index)] = counts.get(str(bucket_index), 0) + int(n)
    return histograms


def _device_failures(session: Session, start: int, end: int) -> dict[tuple[int, str, str, int], int]:
    dialect = session.get_bind().dialect.name
    hour = epoch_bucket(dialect, JobLog.queued_at, HOUR).label("hour")
    rows = session.execute(
        select(hour, JobLog.device, JobLog.job_type, JobLog.owner_id, func.count().label("n"))
        .where(
            JobLog.queued_at >= at(start),
            JobLog.queued_at < at(end),
            JobLog.status == JobStatus.FAILED.value,
            JobLog.device.is_not(None),
        )
        .group_by(hour, JobLog.device, JobLog.job_type, JobLog.owner_id)
    )
    counts: dict[tuple[int, str, str, int], int] = defaultdict(int)
    for hour_start, device, job_type, owner_id, n in rows:
        assert device is not None  # the query asked for devices only
        for owner_key in (_owner_key(owner_id), ALL_OWNERS):
            counts[(int(hour_start), device, job_type, owner_key)] += int(n)
    return counts


def _totals_of(session: Session, start: int, end: int) -> dict[tuple[str, str], Measures]:
    """What the hours ``[start, end)`` contribute to the running totals now (before re-rolling)."""
    c = job_rollups.c
    rows = session.execute(
        select(c.job_type, c.status, *summed_measure_columns(job_rollups))
        .where(c.owner_key == ALL_OWNERS, c.hour_start >= start, c.hour_start < end)
        .group_by(c.job_type, c.status)
    ).mappings()
    return {(row["job_type"], row["status"]): Measures.from_row(row) for row in rows}


def _apply_to_totals(session: Session, old: dict[tuple[str, str], Measures],
                     new: dict[tuple[str, str], Measures]) -> None:  # fmt: skip
    keys = set(old) | set(new)
    if not keys:
        return
    c = job_rollup_totals.c
    current = {
        (row["job_type"], row["status"]): Measures.from_row(row)
        for row in session.execute(select(job_rollup_totals)).mappings()
        if (row["job_type"], row["status"]) in keys
    }
    for job_type, status in keys:
        total = current.get((job_type, status))
        if total is None:
            total = Measures()
            values: dict[str, Any] = {"job_type": job_type, "status": status}
            session.execute(insert(job_rollup_totals).values(**values, **total.as_row()))
        if (job_type, status) in old:
            total.subtract(old[(job_type, status)])
        if (job_type, status) in new:
            total.add(new[(job_type, status)])
        session.execute(
            update(job_rollup_totals)
            .where(c.job_type == job_type, c.status == status)
            .values(**total.as_row())
        )


def recompute_range(session: Session, start: int, end: int) -> None:
    """Replace the rollups of the hours ``[start, end)`` by figures of their raw rows now."""
    settled_cache.clear()
    old_totals = _totals_of(session, start, end)
    for table in HOURLY_TABLES:
        session.execute(delete(table).where(table.c.hour_start >= start, table.c.hour_start < end))
    groups = _rolled_measures(session, start, end)
    if groups:
        session.execute(
            insert(job_rollups),
            [
                {"hour_start": h, "job_type": jt, "status": st, "owner_key": ok, **m.as_row()}
                for (h, jt, st, ok), m in groups.items()
            ],
        )
    durations = _duration_histograms(session, start, end)
    if durations:
        session.execute(
            insert(job_rollup_durations),
            [
                {"hour_start": h, "job_type": jt, "owner_key": ok, "counts": counts}
                for (h, jt, ok), counts in durations.items()
            ],
        )
    failures = _device_failures(session, start, end)
    if failures:
        session.execute(
            insert(job_rollup_device_failures),
            [
                {"hour_start": h, "device": d, "job_type": jt, "owner_key": ok, "failed": n}
                for (h, d, jt, ok), n in failures.items()
            ],
        )
    _resum_days(session, start, end)
    new_totals: dict[tuple[str, str], Measures] = {}
    for (_, job_type, status, owner_key), measures in groups.items():
        if owner_key == ALL_OWNERS:
            new_totals.setdefault((job_type, status), Measures()).add(measures)
    _apply_to_totals(session, old_totals, new_totals)


def _resum_days(session: Session, start: int, end: int) -> None:
    """Rebuild the daily tables of the days touching ``[start, end)`` from their hourly rows."""
    first_day, last_day = start // DAY * DAY, -(-end // DAY) * DAY
    for daily in DAILY_TABLES:
        session.execute(delete(daily).where(daily.c.day_start >= first_day, daily.c.day_start < last_day))
    rolled = job_rollups
    day = ((rolled.c.hour_start // DAY) * DAY).label("day_start")
    keys = [rolled.c.owner_key, rolled.c.job_type, rolled.c.status]
    summed_measures = (
        select(day, *keys, *summed_measure_columns(rolled))
        .where(rolled.c.hour_start >= first_day, rolled.c.hour_start < last_day)
        .group_by(day, *keys)
    )
    session.execute(
        insert(job_rollups_daily).from_select(
            [column.name for column in summed_measures.selected_columns], summed_measures
        )
    )
    failures = job_rollup_device_failures
    day = ((failures.c.hour_start // DAY) * DAY).label("day_start")
    keys = [failures.c.owner_key, failures.c.device, failures.c.job_type]
    summed = (
        select(day, *keys, func.sum(failures.c.failed))
        .where(failures.c.hour_start >= first_day, failures.c.hour_start < last_day)
        .group_by(day, *keys)
    )
    columns = ["day_start", "owner_key", "device", "job_type", "failed"]
    session.execute(insert(job_rollup_device_failures_daily).from_select(columns, summed))
    hourly = job_rollup_durations.c
    histograms: dict[tuple[int, int, str], dict[str, int]] = defaultdict(dict)
    for row in session.execute(
        select(hourly.hour_start, hourly.owner_key, hourly.job_type, hourly.counts).where(
            hourly.hour_start >= first_day, hourly.hour_start < last_day
        )
    ):
        merge_counts(histograms[(row.hour_start // DAY * DAY, row.owner_key, row.job_type)], row.counts)
    if histograms:
        session.execute(
            insert(job_rollup_durations_daily),
            [
                {"day_start": d, "owner_key": ok, "job_type": jt, "counts": counts}
                for (d, ok, jt), counts in histograms.items()
            ],
        )


def _lock_state(session: Session) -> datetime | None:
    """Make sure the state row exists, then hold it: two rollup runs never interleave."""
    session.execute(
        db.insert(session, rollup_state).values(name=STATE_NAME, watermark=None).on_conflict_do_nothing()
    )
    return session.scalar(
        select(rollup_state.c.watermark).where(rollup_state.c.name == STATE_NAME).with_for_update()
    )


def roll_up(session: Session, now: datetime, lateness: timedelta,
            keep_from: datetime | None = None) -> RollupReport:  # fmt: skip
    """Re-roll the hours changed since the last run (all of them on the first run); commit.

    ``keep_from``: hours starting before it are left as they are (their raw rows are being purged,
    so recomputing them would drop what the rollups still know).
    """
    watermark = _lock_state(session)
    changed_after = None if watermark is None else watermark - lateness
    hours = changed_hours(session, changed_after)
    if keep_from is not None:
        hours = [h for h in hours if at(h) >= keep_from]
    for start, end in hour_ranges(hours):
        recompute_range(session, start, end)
    session.execute(update(rollup_state).where(rollup_state.c.name == STATE_NAME).values(watermark=now))
    session.commit()
    if hours:
        log.info("rolled up %d hours of job logs", len(hours))
    return RollupReport(len(hours), now)
