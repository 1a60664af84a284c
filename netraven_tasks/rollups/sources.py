"""Which part of a statistics window is read from rollups and which from raw job logs.

Rollups serve whole UTC hours inside the window that no job log changed in since the last rollup
run; raw rows serve the rest: the partial hours at the window's ends and the hours changed since
(the recent edge). Together they cover every run exactly once, so counts are exact at any moment.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, and_, false, or_
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog
from netraven_tasks.rollups.recompute import changed_hours, hour_ranges, read_watermark
from netraven_tasks.rollups.schema import ALL_OWNERS
from netraven_tasks.rollups.time_buckets import HOUR, at, hour_ceil, hour_floor, split_days

NO_LIMIT = 10**9


@dataclass(frozen=True)
class WindowFilter:
    """The runs a question is about: queued in ``[since, until)``, optionally narrowed."""

    since: datetime
    until: datetime
    job_type: str | None = None
    device: str | None = None
    owner_id: int | None = None  # None: every owner

    def raw_conditions(self) -> list[ColumnElement[bool]]:
        return [JobLog.queued_at >= self.since, JobLog.queued_at < self.until, *self.filter_conditions()]

    def filter_conditions(self) -> list[ColumnElement[bool]]:
        """The narrowing conditions without the time range."""
        conditions: list[ColumnElement[bool]] = []
        if self.job_type is not None:
            conditions.append(JobLog.job_type == self.job_type)
        if self.device is not None:
            conditions.append(JobLog.device == self.device)
        if self.owner_id is not None:
            conditions.append(JobLog.owner_id == self.owner_id)
        return conditions

    @property
    def owner_key(self) -> int:
        return ALL_OWNERS if self.owner_id is None else self.owner_id


@dataclass(frozen=True)
class WindowSources:
    """The window split in two: hour ranges read from rollups, and conditions on raw rows for the rest."""

    where: WindowFilter
    rolled: list[tuple[int, int]] = field(default_factory=list)  # [start, end) epoch hours
    raw_where: list[ColumnElement[bool]] = field(default_factory=list)
    watermark: datetime | None = None  # of the rollup run the rolled hours are read as of

    @property
    def uses_rollups(self) -> bool:
        return bool(self.rolled)

    def rollup_hours(self, hour_start: ColumnElement[int]) -> ColumnElement[bool]:
        return _in_ranges(hour_start, self.rolled)

    def rollup_days_and_hours(
        self, day_start: ColumnElement[int], hour_start: ColumnElement[int]
    ) -> tuple[ColumnElement[bool], ColumnElement[bool]]:
        """Conditions on a daily table and on its hourly table that together cover the rolled hours."""
        days, hours = split_days(self.rolled)
        return _in_ranges(day_start, days), _in_ranges(hour_start, hours)


def _in_ranges(column: ColumnElement[int], ranges: list[tuple[int, int]]) -> ColumnElement[bool]:
    return or_(false(), *[and_(column >= start, column < end) for start, end in ranges])


def plan_sources(session: Session, where: WindowFilter, bucket_seconds: int) -> WindowSources:
    """Split the window; all raw when rollups cannot answer (device filter, buckets under an hour)."""
    all_raw = WindowSources(where, [], where.raw_conditions())
    if where.device is not None or bucket_seconds < HOUR or bucket_seconds % HOUR:
        return all_raw  # rollups have no device dimension and no finer grain than the hour
    watermark = read_watermark(session)
    first, last = hour_ceil(where.since), hour_floor(where.until)
    if watermark is None or first >= last:
        return all_raw
    dirty = {hour for hour in changed_hours(session, watermark) if first <= hour < last}
    rolled = list(hour_ranges((h for h in range(first, last, HOUR) if h not in dirty), NO_LIMIT))
    if not rolled:
        return all_raw
    # Only tight ranges, no enclosing [since, until): the planner then reads each range from the
    # queued_at index (a BitmapOr) instead of scanning the whole window and filtering.
    queued = JobLog.queued_at
    edges = [(where.since, at(first)), (at(last), where.until)]
    edges += [(at(start), at(end)) for start, end in hour_ranges(dirty, NO_LIMIT)]
    raw_time = or_(false(), *[and_(queued >= low, queued < high) for low, high in edges if low < high])
    return WindowSources(where, rolled, [*where.filter_conditions(), raw_time], watermark)
