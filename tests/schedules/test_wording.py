"""A schedule's timing in words: the common cron shapes and intervals, the rest shown as they are."""

from __future__ import annotations

import pytest

from netraven_tasks.schedules.timing import Timing
from netraven_tasks.schedules.wording import duration_words, timing_words


@pytest.mark.parametrize(
    ("timing", "words"),
    [
        (Timing(interval_seconds=60), "every minute"),
        (Timing(interval_seconds=300), "every 5 minutes"),
        (Timing(interval_seconds=86400), "every day"),
        (Timing(interval_seconds=90061), "every 1 day 1 hour 1 minute 1 second"),
        (Timing(cron="*/15 * * * *"), "every 15 minutes (UTC)"),
        (Timing(cron="5 * * * *"), "every hour at 05 past (UTC)"),
        (Timing(cron="30 2 * * *", timezone="Europe/Berlin"), "every day at 02:30 (Europe/Berlin)"),
        (Timing(cron="0 7 * * 1-5"), "every Monday to Friday at 07:00 (UTC)"),
        (Timing(cron="0 7 * * 0,6"), "every Sunday, Saturday at 07:00 (UTC)"),
        (Timing(cron="0 3 1 * *"), "on day 1 of every month at 03:00 (UTC)"),
        (Timing(cron="0 3 1 1 *"), "cron 0 3 1 1 * (UTC)"),
        (Timing(cron="0 9-17 * * *"), "cron 0 9-17 * * * (UTC)"),
        (Timing(cron="0 7 * * mon"), "cron 0 7 * * mon (UTC)"),
    ],
)
def test_timing_words(timing: Timing, words: str) -> None:
    assert timing_words(timing) == words


def test_duration_words_keep_every_unit() -> None:
    assert duration_words(3660) == "1 hour 1 minute" and duration_words(0) == "0 seconds"
