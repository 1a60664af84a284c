"""The statistics chart: jobs per time bucket, stacked by status, as plain SVG shapes we draw."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

STACK_ORDER = ("completed", "failed", "canceled", "retrying", "running", "queued")
WIDTH, HEIGHT, LEFT, BOTTOM, TOP = 720, 220, 40, 24, 10


@dataclass(frozen=True)
class Bar:
    x: float
    y: float
    width: float
    height: float
    status: str
    count: int
    label: str


@dataclass(frozen=True)
class Chart:
    width: int
    height: int
    bars: list[Bar]
    max_count: int
    ticks: list[tuple[float, int]]  # (y, value) of the horizontal grid lines
    labels: list[tuple[float, str]]  # (x, text) under some buckets
    baseline: float


def _nice_max(value: int) -> int:
    for step in (1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 5000, 10_000):
        if value <= step * 4:
            return step * 4
    return value


def stacked_bars(series: Sequence[dict[str, Any]], label_of: Any = None) -> Chart:
    """Bars for each bucket, one rectangle per non-zero status, scaled to a rounded maximum."""
    plot_width, plot_height = WIDTH - LEFT - 8, HEIGHT - BOTTOM - TOP
    peak = max((int(bucket.get("total", 0)) for bucket in series), default=0)
    top = _nice_max(max(peak, 1))
    slot = plot_width / max(len(series), 1)
    bar_width = max(1.0, slot * 0.8)
    bars: list[Bar] = []
    labels: list[tuple[float, str]] = []
    every = max(1, len(series) // 8)
    for index, bucket in enumerate(series):
        x = LEFT + index * slot + (slot - bar_width) / 2
        y = float(TOP + plot_height)
        text = label_of(bucket["start"]) if label_of else str(bucket["start"])
        for status in STACK_ORDER:
            count = int(bucket.get(status, 0) or 0)
            if not count:
                continue
            height = plot_height * count / top
            y -= height
            bars.append(
                Bar(round(x, 2), round(y, 2), round(bar_width, 2), round(height, 2), status, count, text)
            )
        if index % every == 0:
            labels.append((round(x + bar_width / 2, 2), text))
    ticks = [(round(TOP + plot_height * (1 - i / 4), 2), top * i // 4) for i in range(5)]
    return Chart(WIDTH, HEIGHT, bars, top, ticks, labels, float(TOP + plot_height))
