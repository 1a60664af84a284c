"""UTC-aligned time buckets as seconds since the epoch, computed by the database."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, ColumnElement, Integer, cast, func
from sqlalchemy.orm import InstrumentedAttribute

HOUR = 3600


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
