"""The additive figures of a group of job runs, computed the same way from raw rows and rollups.

One definition serves the rollup job (raw rows grouped by hour), statistics (rollups plus the raw
edge of a window) and /metrics (totals plus the raw rows of hours not rolled yet).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import ColumnElement, FromClause, RowMapping, case, func

from netraven_tasks.models import JobLog
from netraven_tasks.rollups.histogram import PROMETHEUS_BUCKETS
from netraven_tasks.rollups.schema import LE_COLUMNS


def raw_measure_columns(*, prometheus: bool = True) -> list[ColumnElement[Any]]:
    """The figures of raw ``job_logs`` rows, as SELECT columns named like the rollup columns
    (without the Prometheus buckets when ``prometheus`` is false: statistics do not need them)."""
    duration = JobLog.duration_seconds
    return [
        func.count().label("jobs"),
        func.coalesce(func.sum(case((JobLog.attempts > 1, 1), else_=0)), 0).label("retried"),
        func.coalesce(func.sum(case((JobLog.attempts > 1, JobLog.attempts - 1), else_=0)), 0).label(
            "extra_attempts"
        ),
        func.count(duration).label("timed"),
        func.coalesce(func.sum(duration), 0.0).label("duration_sum"),
        func.min(duration).label("duration_min"),
        func.max(duration).label("duration_max"),
        *[
            func.coalesce(func.sum(case((duration <= bound, 1), else_=0)), 0).label(name)
            for name, bound in zip(LE_COLUMNS, PROMETHEUS_BUCKETS, strict=True)
            if prometheus
        ],
    ]


def summed_measure_columns(table: FromClause, *, prometheus: bool = True) -> list[ColumnElement[Any]]:
    """The same figures summed over rollup rows."""
    c = table.c
    return [
        *[
            func.coalesce(func.sum(c[name]), 0).label(name)
            for name in ("jobs", "retried", "extra_attempts", "timed")
        ],
        func.coalesce(func.sum(c.duration_sum), 0.0).label("duration_sum"),
        func.min(c.duration_min).label("duration_min"),
        func.max(c.duration_max).label("duration_max"),
        *[func.coalesce(func.sum(c[name]), 0).label(name) for name in LE_COLUMNS if prometheus],
    ]


def _min(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else min(a, b)


def _max(a: float | None, b: float | None) -> float | None:
    return b if a is None else a if b is None else max(a, b)


@dataclass
class Measures:
    jobs: int = 0
    retried: int = 0
    extra_attempts: int = 0
    timed: int = 0
    duration_sum: float = 0.0
    duration_min: float | None = None
    duration_max: float | None = None
    le: list[int] = field(default_factory=lambda: [0] * len(LE_COLUMNS))

    @classmethod
    def from_row(cls, row: RowMapping | Mapping[str, Any]) -> Measures:
        return cls(
            jobs=int(row["jobs"] or 0),
            retried=int(row["retried"] or 0),
            extra_attempts=int(row["extra_attempts"] or 0),
            timed=int(row["timed"] or 0),
            duration_sum=float(row["duration_sum"] or 0.0),
            duration_min=None if row["duration_min"] is None else float(row["duration_min"]),
            duration_max=None if row["duration_max"] is None else float(row["duration_max"]),
            # Statistics select no Prometheus buckets: one membership test, not one miss per bucket.
            le=[int(row[name] or 0) for name in LE_COLUMNS]
            if LE_COLUMNS[0] in row
            else [0] * len(LE_COLUMNS),
        )

    def add(self, other: Measures) -> None:
        self.jobs += other.jobs
        self.retried += other.retried
        self.extra_attempts += other.extra_attempts
        self.timed += other.timed
        self.duration_sum += other.duration_sum
        self.duration_min = _min(self.duration_min, other.duration_min)
        self.duration_max = _max(self.duration_max, other.duration_max)
        self.le = [mine + theirs for mine, theirs in zip(self.le, other.le, strict=True)]

    def subtract(self, other: Measures) -> None:
        """Take a group's old figures out of a total (its min and max cannot be taken back out)."""
        self.jobs -= other.jobs
        self.retried -= other.retried
        self.extra_attempts -= other.extra_attempts
        self.timed -= other.timed
        self.duration_sum -= other.duration_sum
        self.le = [mine - theirs for mine, theirs in zip(self.le, other.le, strict=True)]

    def as_row(self) -> dict[str, Any]:
        row: dict[str, Any] = {
            "jobs": self.jobs,
            "retried": self.retried,
            "extra_attempts": self.extra_attempts,
            "timed": self.timed,
            "duration_sum": self.duration_sum,
            "duration_min": self.duration_min,
            "duration_max": self.duration_max,
        }
        row.update(zip(LE_COLUMNS, self.le, strict=True))
        return row
