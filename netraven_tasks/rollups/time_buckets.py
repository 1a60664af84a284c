"""UTC-aligned time buckets as seconds since the epoch, computed by the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func, text
from sqlalchemy.orm import InstrumentedAttribute

HOUR = 3600
DAY = 86400


def epoch_bucket(
    dialect_name: str, column: ColumnElement[Any] | InstrumentedAttribute[Any], width: int
) -> ColumnElement[int]:
    """Seconds since the epoch of the start of the ``width``-second bucket ``column`` falls in."""
    if dialect_name == "postgresql":
        epoch = func.extract("epoch", column)
        return cast(func.floor(epoch / width) * width, BigInteger)
    epoch_seconds = cast(func.strftime("%s", column), Integer)
    return (epoch_seconds // width) * width  # floor division (times after 1970 are positive)


def at(epoch_seconds: int) -> datetime:
    return datetime.fromtimestamp(epoch_seconds, UTC)


def hour_floor(moment: datetime) -> int:
    return int(moment.timestamp()) // HOUR * HOUR


def hour_ceil(moment: datetime) -> int:
    seconds = moment.timestamp()
    start = int(seconds) // HOUR * HOUR
    return start if start == seconds else start + HOUR


def split_days(ranges: list[tuple[int, int]]) -> tuple[list[tuple[int, int]], list[tuple[int, int]]]:
    """Hour ranges split into the whole UTC days they contain and the hours left over."""
    days: list[tuple[int, int]] = []
    hours: list[tuple[int, int]] = []
    for start, end in ranges:
        first_day = -(-start // DAY) * DAY
        last_day = end // DAY * DAY
        if first_day >= last_day:
            hours.append((start, end))
            continue
        days.append((first_day, last_day))
        hours.extend(r for r in ((start, first_day), (last_day, end)) if r[0] < r[1])
    return days, hours


def without_parallel_workers(session: Any) -> None:
    """PostgreSQL: no parallel workers for the rest of this transaction. Rollup queries read a few
    thousand rows; starting workers (5-15 ms on a busy 2-core machine) costs more than they save."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL max_parallel_workers_per_gather = 0"))
