"""Slot arithmetic: when a schedule's runs are due, for intervals and for cron in a time zone.

Interval slots are aligned to the Unix epoch (every 3600 s is every full hour), so every
process computes the same slots and a slot is a stable identity for a run. Cron slots are
computed in the schedule's time zone (croniter, zoneinfo), then kept in UTC.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadDateError, croniter

MIN_GRACE_SECONDS = 60


class TimingError(ValueError):
    """A cron expression or time zone we cannot use; the message says why."""


@dataclass(frozen=True)
class Timing:
    interval_seconds: int | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def next_slot(self, after: datetime) -> datetime:
        """The first slot strictly after ``after`` (aware UTC)."""
        if self.interval_seconds is not None:
            step = self.interval_seconds
            index = math.floor(after.timestamp() / step) + 1
            return datetime.fromtimestamp(index * step, UTC)
        assert self.cron is not None
        local = after.astimezone(zone(self.timezone))
        following: datetime = croniter(self.cron, local).get_next(datetime)
        return following.astimezone(UTC)

    def previous_slot(self, at_or_before: datetime) -> datetime:
        """The last slot at or before ``at_or_before``."""
        if self.interval_seconds is not None:
            step = self.interval_seconds
            return datetime.fromtimestamp(math.floor(at_or_before.timestamp() / step) * step, UTC)
        assert self.cron is not None
        local = (at_or_before + timedelta(microseconds=1)).astimezone(zone(self.timezone))
        previous: datetime = croniter(self.cron, local).get_prev(datetime)
        return previous.astimezone(UTC)

    def typical_period_seconds(self, around: datetime) -> float:
        """The gap between two slots (for a cron schedule: the one after ``around``)."""
        if self.interval_seconds is not None:
            return float(self.interval_seconds)
        first = self.next_slot(around)
        return (self.next_slot(first) - first).total_seconds()

    def upcoming(self, after: datetime, count: int) -> list[datetime]:
        """The next ``count`` slots strictly after ``after``: what beat launches from then on (a
        new schedule's first run is ``next_slot(now)``, and each launch moves to the slot after)."""
        slots: list[datetime] = []
        for _ in range(count):
            after = self.next_slot(after)
            slots.append(after)
        return slots


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as error:
        raise TimingError(
            f"unknown time zone {name[:64]!r}; use an IANA name such as Europe/Berlin"
        ) from error


def check_cron(expression: str) -> str:
    """The expression, normalised, if it has five valid fields and fires at all (``0 0 31 2 *``
    never does: croniter gives up searching); raises TimingError otherwise."""
    fields = expression.split()
    if len(fields) != 5:
        raise TimingError("must have five fields: minute hour day-of-month month day-of-week")
    normalised = " ".join(fields)
    if not croniter.is_valid(normalised):
        raise TimingError(f"is not a valid cron expression: {normalised[:100]!r}")
    try:
        croniter(normalised, datetime.now(UTC)).get_next(datetime)
    except CroniterBadDateError:
        raise TimingError(f"never fires: no day matches {normalised[:100]!r}") from None
    return normalised


def default_grace_seconds(period_seconds: float) -> int:
    """A fifth of the period, at least a minute."""
    return max(MIN_GRACE_SECONDS, int(period_seconds // 5))
