"""The statistics chart's SVG geometry: stacked by status, scaled to a round maximum, labelled sparsely."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from api.ui.chart import HEIGHT, TOP, stacked_bars

T0 = datetime(2026, 11, 29, 0, 0, tzinfo=UTC)


def bucket(hour: int, **counts: int) -> dict:  # type: ignore[type-arg]
    return {"start": T0 + timedelta(hours=hour), "total": sum(counts.values()), **counts}


def test_bars_stack_by_status_from_the_baseline_and_scale_to_a_round_maximum():
    chart = stacked_bars([bucket(0, completed=3, failed=2), bucket(1), bucket(2, canceled=7)])
    assert chart.max_count == 8  # 7 rounded up to 4 grid steps of 2
    first = [bar for bar in chart.bars if bar.label.startswith("2026-11-29 00")]
    assert [(bar.status, bar.count) for bar in first] == [("completed", 3), ("failed", 2)]
    completed, failed = first
    assert completed.y + completed.height == chart.baseline  # drawn from the axis up
    assert failed.y + failed.height == completed.y  # stacked on top
    assert abs(failed.height / completed.height - 2 / 3) < 0.01
    tallest = next(bar for bar in chart.bars if bar.status == "canceled")
    assert abs(tallest.height - (HEIGHT - 24 - TOP) * 7 / 8) < 0.01
    assert [value for _, value in chart.ticks] == [0, 2, 4, 6, 8]


def test_an_empty_period_and_a_long_series_stay_readable():
    assert stacked_bars([]).bars == []
    many = stacked_bars([bucket(h, completed=1) for h in range(100)], lambda start: start.strftime("%H"))
    assert len(many.bars) == 100 and len(many.labels) <= 9
    assert all(bar.width >= 1 for bar in many.bars)
