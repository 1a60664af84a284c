"""The rollup tables (made by migrations 0005 and 0009), as SQLAlchemy Core tables on the models' metadata.

Core, not ORM classes: rollup rows are written and read in bulk, never one object at a time.
``owner_key`` is -1 for "every owner", 0 for runs without an owner, else the owner's user id (no
foreign key: a deleted user's past figures stay in the totals). ``hour_start`` is the UTC hour as
seconds since the epoch, so series buckets are plain integer arithmetic on every database.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Column, Float, Integer, String, Table

from netraven_tasks.models import Base, JSONType, UTCDateTime
from netraven_tasks.rollups.histogram import PROMETHEUS_BUCKETS

ALL_OWNERS = -1
NO_OWNER = 0
LE_COLUMNS = tuple(f"le_{i}" for i in range(len(PROMETHEUS_BUCKETS)))
MEASURES = ("jobs", "retried", "extra_attempts", "timed", "duration_sum", "duration_min", "duration_max")


def _measures() -> list[Column[object]]:
    return [
        Column("jobs", Integer, nullable=False),
        Column("retried", Integer, nullable=False),  # runs that needed more than one attempt
        Column("extra_attempts", Integer, nullable=False),  # attempts after the first, summed
        Column("timed", Integer, nullable=False),  # runs with a duration
        Column("duration_sum", Float, nullable=False),
        Column("duration_min", Float),
        Column("duration_max", Float),
        # Prometheus histogram: runs with duration <= PROMETHEUS_BUCKETS[i] (cumulative).
        *[Column(name, Integer, nullable=False) for name in LE_COLUMNS],
    ]


def _rollup_table(name: str, period_start: str, keys: dict[str, int], *values: Column[Any]) -> Table:
    """A rollup table: its primary key is (owner, period start, ``keys`` as strings of those lengths)."""
    return Table(
        name,
        Base.metadata,
        Column("owner_key", Integer, primary_key=True),
        Column(period_start, BigInteger, primary_key=True),
        *[Column(key, String(length), primary_key=True) for key, length in keys.items()],
        *values,
    )


def _job_rollups_table(name: str, period_start: str) -> Table:
    return _rollup_table(name, period_start, {"job_type": 100, "status": 16}, *_measures())


def _durations_table(name: str, period_start: str) -> Table:
    return _rollup_table(name, period_start, {"job_type": 100}, Column("counts", JSONType, nullable=False))


def _device_failures_table(name: str, period_start: str) -> Table:
    return _rollup_table(
        name, period_start, {"device": 255, "job_type": 100}, Column("failed", Integer, nullable=False)
    )


job_rollups = _job_rollups_table("job_rollups", "hour_start")
# The same summed per UTC day (``day_start``): long windows read whole days here (migration 0009).
job_rollups_daily = _job_rollups_table("job_rollups_daily", "day_start")

# Log-scale histogram of durations (netraven_tasks.rollups.histogram), one JSON object per row:
# {"<bucket>": runs} for the non-empty buckets. One row per group, not per bucket: a group's
# durations spread over ~100 buckets, so a row per bucket would be as many rows as job logs.
job_rollup_durations = _durations_table("job_rollup_durations", "hour_start")
# Failed runs per device: only devices that failed in that hour have a row.
job_rollup_device_failures = _device_failures_table("job_rollup_device_failures", "hour_start")
# The same two summed per UTC day (``day_start``): long windows read days, their ends read hours.
job_rollup_durations_daily = _durations_table("job_rollup_durations_daily", "day_start")
job_rollup_device_failures_daily = _device_failures_table("job_rollup_device_failures_daily", "day_start")

# Every rolled hour summed (all owners), kept up to date by each recomputation: /metrics reads it.
job_rollup_totals = Table(
    "job_rollup_totals",
    Base.metadata,
    Column("job_type", String(100), primary_key=True),
    Column("status", String(16), primary_key=True),
    *_measures(),
)

rollup_state = Table(
    "rollup_state",
    Base.metadata,
    Column("name", String(32), primary_key=True),
    Column("watermark", UTCDateTime),
)

# The tables keyed by hour and their sums per day (recomputed, purged and emptied together).
HOURLY_TABLES = (job_rollups, job_rollup_durations, job_rollup_device_failures)
DAILY_TABLES = (job_rollups_daily, job_rollup_durations_daily, job_rollup_device_failures_daily)
# Every table the rollups write, e.g. for a test that empties them.
ROLLUP_TABLES = (*HOURLY_TABLES, *DAILY_TABLES, job_rollup_totals, rollup_state)
