"""Duration histograms: a fixed log-scale one for percentiles, and Prometheus' cumulative one.

Log scale: bucket 0 holds durations under 1 ms, bucket ``b >= 1`` holds ``[1 ms * 1.05**(b-1),
1 ms * 1.05**b)``. A value read back as its bucket's geometric middle is within ``sqrt(1.05) - 1``
(2.5 %) of the truth, and a percentile interpolated between two such values keeps that bound, so
p50/p95 stay within 5 % of ``percentile_cont`` whatever the distribution. Buckets are sparse:
durations from 1 ms to a day use at most ~375 of them.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Mapping
from typing import Any

from sqlalchemy import ColumnElement, Integer, case, cast, func
from sqlalchemy.orm import InstrumentedAttribute

LOG_MIN_SECONDS = 0.001
GROWTH = 1.05
_LOG_GROWTH = math.log(GROWTH)

# Upper bounds (seconds) of /metrics' duration histogram: network jobs take 0.1 s to an hour.
PROMETHEUS_BUCKETS: tuple[float, ...] = (0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600)


def bucket_of(duration: float) -> int:
    """The log-scale bucket of one duration (the same arithmetic as ``bucket_expression``)."""
    if duration < LOG_MIN_SECONDS:
        return 0
    return math.floor(math.log(duration / LOG_MIN_SECONDS) / _LOG_GROWTH) + 1


def bucket_expression(duration: ColumnElement[Any] | InstrumentedAttribute[Any]) -> ColumnElement[int]:
    """``bucket_of`` in SQL (PostgreSQL, and SQLite's built-in math functions); NULL for no duration
    (tested first: the logarithm is never asked of a NULL)."""
    log_buckets = func.floor(func.ln(duration / LOG_MIN_SECONDS) / _LOG_GROWTH)
    return case(
        (duration.is_(None), None),
        (duration < LOG_MIN_SECONDS, 0),
        else_=cast(log_buckets, Integer) + 1,
    )


def merge_counts(total: dict[Any, int], counts: Mapping[Any, int]) -> None:
    """Add one stored histogram (or any counts) into ``total``, keyed like the JSON (bucket numbers
    as strings): a month reads ~150 of them, so the keys are converted once at the end."""
    get = total.get
    for bucket, n in counts.items():
        total[bucket] = get(bucket, 0) + n


def as_buckets(total: Mapping[str, int]) -> dict[int, int]:
    return {int(bucket): int(n) for bucket, n in total.items()}


def _middle(bucket: int) -> float:
    if bucket == 0:
        return LOG_MIN_SECONDS / 2
    return LOG_MIN_SECONDS * GROWTH ** (bucket - 0.5)


def estimate_percentile(counts: Mapping[int, int], q: float, smallest: float, largest: float) -> float | None:
    """``percentile_cont(q)`` estimated from bucket counts and the exact smallest and largest values.

    The rank ``q * (n - 1)`` is interpolated between the values at its two neighbouring ranks,
    exactly as ``percentile_cont`` does; each of those is its bucket's middle, clamped to
    ``[smallest, largest]`` (and exact at the first and last rank).
    """
    buckets = sorted(b for b, n in counts.items() if n > 0)
    total = sum(counts[b] for b in buckets)
    if total == 0:
        return None
    cumulative: list[int] = []
    running = 0
    for bucket in buckets:
        running += counts[bucket]
        cumulative.append(running)

    def value_at(rank: int) -> float:
        if rank <= 0:
            return smallest
        if rank >= total - 1:
            return largest
        bucket = buckets[bisect.bisect_right(cumulative, rank)]
        return min(max(_middle(bucket), smallest), largest)

    position = q * (total - 1)
    lower = math.floor(position)
    fraction = position - lower
    value = value_at(lower)
    if fraction:
        value = value * (1 - fraction) + value_at(lower + 1) * fraction
    return value
