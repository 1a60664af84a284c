"""Operators see dead letters on /metrics and handle them with ``netraven-tasks tracking dead-letters``."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import redis
from prometheus_client.parser import text_string_to_metric_families

from netraven_tasks.tracking.dead_letters import DEAD_LETTER_STREAM, RedisDeadLetters
from netraven_tasks.tracking.recorder import SyncRecorder
from tests.conftest import ROOT, TEST_ENV
from tests.tracking.test_poison_events import MARKER, accept_marker, refuse_marker, row, run_events

pytestmark = pytest.mark.usefixtures("clean_db")


@pytest.fixture
def letters(redis_client: redis.Redis):
    redis_client.delete(DEAD_LETTER_STREAM)
    yield RedisDeadLetters(redis_client)
    redis_client.delete(DEAD_LETTER_STREAM)


@pytest.fixture
def sessions(settings):  # type: ignore[no-untyped-def]
    from netraven_tasks.db import session_factory

    return session_factory(settings)


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "netraven_tasks.cli", "tracking", "dead-letters", *args],
        env={**os.environ, **TEST_ENV}, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


def dead_letter_gauge(settings) -> float:  # type: ignore[no-untyped-def]
    from api import create_app

    response = create_app(settings).test_client().get("/metrics")
    assert response.status_code == 200
    for family in text_string_to_metric_families(response.get_data(as_text=True)):
        for sample in family.samples:
            if sample.name == "netraven_tracking_dead_letters":
                return float(sample.value)
    raise AssertionError("netraven_tracking_dead_letters is missing from /metrics")


def test_dead_letters_are_counted_listed_replayed_and_dropped(settings, sessions, letters):
    recorder = SyncRecorder(sessions, dead_letters=letters)
    refuse_marker(sessions)
    try:
        for task_id in ("refused-1", "refused-2"):
            for event in run_events(task_id, error=f"{MARKER} from {task_id}"):
                recorder.record(event)
    finally:
        accept_marker(sessions)
    assert dead_letter_gauge(settings) == 2

    listing = cli()
    assert listing.returncode == 0, listing.stderr
    assert "failed of task refused-1 (reachability_check)" in listing.stdout
    assert "2 dead letter(s)" in listing.stdout
    first, second = (letter.id for letter in letters.list())

    replayed = cli("--replay", first)
    assert replayed.returncode == 0, replayed.stderr
    assert "is failed" in replayed.stdout
    assert row(sessions, "refused-1").error_type == "ValueError"  # type: ignore[union-attr]

    dropped = cli("--drop", second)
    assert dropped.returncode == 0 and f"dropped dead letter {second}" in dropped.stdout
    assert row(sessions, "refused-2").error_type == "TrackingEventRejected"  # type: ignore[union-attr]
    assert dead_letter_gauge(settings) == 0

    unknown = cli("--replay", "1-1")
    assert unknown.returncode == 2 and "no dead letter '1-1'" in unknown.stderr


def test_a_letter_that_fails_again_on_replay_is_kept(settings, sessions, letters):
    recorder = SyncRecorder(sessions, dead_letters=letters)
    refuse_marker(sessions)
    try:
        for event in run_events("still-refused", error=f"{MARKER} again"):
            recorder.record(event)
        [letter] = letters.list()
        again = cli("--replay", letter.id)
    finally:
        accept_marker(sessions)
    assert again.returncode == 2 and "failed again, it is kept" in again.stderr
    assert [kept.id for kept in letters.list()] == [letter.id]
