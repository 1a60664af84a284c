"""The one backoff and the one truncation, with the numbers and limits each caller keeps."""

from __future__ import annotations

import random

import pytest

from netraven_tasks import backoff
from netraven_tasks.notifications.outbox import backoff as outbox_backoff
from netraven_tasks.notifications.outbox.delivery import WRITE_RETRY_BASE, WRITE_RETRY_MAX
from netraven_tasks.text import truncate
from netraven_tasks.tracking.storable import storable_text
from netraven_tasks.tracking.stream import RECONNECT_BASE, RECONNECT_MAX
from netraven_tasks.tracking.transitions import trim


def test_each_caller_keeps_its_numbers():
    assert [outbox_backoff(n).total_seconds() for n in (0, 1, 2, 7, 8, 500)] == [30, 30, 60, 1920, 3600, 3600]
    assert [backoff.delay(n, WRITE_RETRY_BASE, WRITE_RETRY_MAX) for n in (1, 2, 3, 4)] == [0.5, 1, 2, 4]
    assert [backoff.delay(n, RECONNECT_BASE, RECONNECT_MAX) for n in (1, 2, 3, 4, 5, 99)] == [
        0.5,
        1,
        2,
        4,
        5,
        5,
    ]


def test_jitter_stays_within_its_spread_and_the_cap():
    rng = random.Random(7)
    delays = [backoff.delay(3, 10, 100, jitter=0.5, rng=rng) for _ in range(200)]  # 40 s +/- 20
    assert all(20 <= d <= 60 for d in delays) and len(set(delays)) > 100
    assert all(17.5 <= backoff.delay(3, 10, 35, jitter=0.5, rng=rng) <= 35 for _ in range(200))
    assert backoff.delay(10**6, 1, 60, factor=10) == 60  # no overflow: the cap


@pytest.mark.parametrize("limit", [0, 5, 30, 100, 2_000])
def test_truncate_never_exceeds_the_limit_and_says_how_much_is_left_out(limit):
    text = "x" * 10_000
    cut = truncate(text, limit)
    assert len(cut) <= limit
    if limit >= 30:
        kept = cut.index(" … [")
        assert cut == "x" * kept + f" … [{10_000 - kept} more characters]"
    assert truncate("short", 100) == "short" and truncate(None, 10) == ""


def test_the_tracking_write_path_uses_the_same_marker():
    assert trim("y" * 5_000, 2_000) == truncate("y" * 5_000, 2_000)
    assert trim(None, 10) is None
    assert storable_text("a\x00" + "z" * 500, 100).endswith(" more characters]")
