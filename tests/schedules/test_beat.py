"""Real beat processes launch the database's schedules: every slot exactly once, with any number
of beats, across a change of interval and across the death of the leading beat.

Intervals of seconds (NETRAVEN_SCHEDULE_MIN_INTERVAL_SECONDS=1 in the tests) and a 3 s leader lock
(NETRAVEN_BEAT_LOCK_TTL_SECONDS) keep each test to seconds; the session worker runs the jobs.
"""

from __future__ import annotations

import os
import signal
import time
from datetime import UTC, datetime, timedelta
from itertools import pairwise

import pytest
import redis

from tests.conftest import REDIS_URL, eventually

TICK = 1.0  # netraven_tasks.schedules.beat.TICK_SECONDS
pytestmark = pytest.mark.slow


def runs_of(settings, schedule_id: int) -> list[tuple[datetime, datetime, str]]:  # type: ignore[no-untyped-def]
    """(slot, queued_at, status) of every run of the schedule, by slot."""
    from sqlalchemy import select

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog

    with session_factory(settings)() as session:
        rows = session.execute(
            select(JobLog.scheduled_for, JobLog.queued_at, JobLog.status)
            .where(JobLog.schedule_id == schedule_id)
            .order_by(JobLog.scheduled_for)
        )
        return [(slot, queued, status) for slot, queued, status in rows]  # type: ignore[misc]


def assert_every_slot_once(slots: list[datetime], step: float) -> None:
    assert len(slots) == len(set(slots)), f"a slot ran twice: {slots}"
    gaps = [(b - a).total_seconds() for a, b in pairwise(slots)]
    assert all(gap == step for gap in gaps), f"slots skipped or misaligned: {gaps}"


def schedule(client, user, **fields):  # type: ignore[no-untyped-def]
    body = {"job_type": "test_flaky", "arguments": {"host": "sw-sched", "succeed_on_attempt": 1}, **fields}
    response = client.post("/schedules", json=body, headers=user.headers)
    assert response.status_code == 201, response.get_json()
    return response.get_json()


def pause(client, user, schedule_id: int) -> datetime:  # type: ignore[no-untyped-def]
    response = client.patch(f"/schedules/{schedule_id}", json={"enabled": False}, headers=user.headers)
    assert response.status_code == 200
    return datetime.now(UTC)


def leader_pid() -> int:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        name = client.get("netraven:beat:leader:name")
    finally:
        client.close()
    assert name is not None, "no beat leads"
    return int(name.decode().rpartition(":")[2])


def test_two_beats_launch_each_slot_of_an_api_schedule_exactly_once(beats, client, users, settings):
    first, second = beats(), beats()
    created = schedule(client, users.alice, interval_seconds=2)
    eventually(lambda: len(runs_of(settings, created["id"])) >= 6, timeout=40, message="six runs")
    paused_at = pause(client, users.alice, created["id"])
    time.sleep(2 * 2 + TICK)  # as long as the next slot could take to show up: none may
    runs = runs_of(settings, created["id"])
    slots = [slot for slot, _, _ in runs]
    assert_every_slot_once(slots, 2.0)
    assert slots[-1] <= paused_at + timedelta(seconds=TICK)
    for slot, queued_at, _ in runs:
        assert timedelta(0) <= queued_at - slot < timedelta(seconds=TICK + 1.5), (slot, queued_at)
    statuses = eventually(
        lambda: {status for *_, status in runs_of(settings, created["id"])} == {"completed"},
        message="every run completed",
    )
    assert statuses
    described = client.get(f"/schedules/{created['id']}", headers=users.alice.headers).get_json()
    assert described["last_status"] == "completed" and described["state"] == "paused"
    listed = client.get(f"/job-logs?schedule_id={created['id']}&page_size=100", headers=users.alice.headers)
    assert len(listed.get_json()) == len(runs)
    assert leader_pid() in (first.process.pid, second.process.pid)
    print(f"two beats: {len(runs)} slots, {len(set(slots))} distinct, 0 doubled, 0 skipped")


def test_patching_the_interval_takes_effect_without_a_restart(beats, client, users, settings):
    beats()  # at least one more beat; the module's earlier ones keep running
    created = schedule(client, users.alice, interval_seconds=2)
    eventually(lambda: len(runs_of(settings, created["id"])) >= 2, timeout=30, message="two runs")
    patched = client.patch(
        f"/schedules/{created['id']}", json={"interval_seconds": 3}, headers=users.alice.headers
    )
    assert patched.status_code == 200
    changed_at = datetime.now(UTC)

    def slots_after_the_change() -> list[datetime]:
        # By slot, not by count: a slot of the old interval may still be launched after the PATCH.
        return [slot for slot, _, _ in runs_of(settings, created["id"]) if slot > changed_at]

    eventually(lambda: len(slots_after_the_change()) >= 3, timeout=30, message="3 slots after the change")
    pause(client, users.alice, created["id"])
    later = slots_after_the_change()
    assert len(later) >= 3
    assert all(slot.timestamp() % 3 == 0 for slot in later), later
    assert_every_slot_once(later, 3.0)
    assert later[0] - changed_at <= timedelta(seconds=3 + TICK)


def test_killing_the_leading_beat_hands_over_within_the_lock_ttl_without_losing_a_slot(
    beats, client, users, settings
):
    beats()
    created = schedule(client, users.alice, interval_seconds=1)
    eventually(lambda: len(runs_of(settings, created["id"])) >= 3, timeout=30, message="three runs")
    victim = leader_pid()
    os.kill(victim, signal.SIGKILL)
    killed_at = datetime.now(UTC)
    eventually(
        lambda: sum(queued > killed_at for _, queued, _ in runs_of(settings, created["id"])) >= 4,
        timeout=30,
        message="runs launched by the new leader",
    )
    pause(client, users.alice, created["id"])
    runs = runs_of(settings, created["id"])
    assert_every_slot_once([slot for slot, _, _ in runs], 1.0)
    first_after = min(queued for _, queued, _ in runs if queued > killed_at)
    handover = (first_after - killed_at).total_seconds()
    ttl = settings.beat_lock_ttl_seconds
    assert handover <= ttl + TICK + 1.0, handover
    assert leader_pid() != victim
    caught_up = [slot for slot, queued, _ in runs if slot < first_after - timedelta(seconds=1) < queued]
    print(f"hand-over after {handover:.2f}s (lock TTL {ttl}s); {len(caught_up)} slots launched late, 0 lost")
    beats()  # the module's beats stay two or more for what follows
