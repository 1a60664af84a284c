"""A schedule with ``targets`` launches one batch per slot (the slot is the batch's identity, so a
second launcher finds it taken), and the missed-run check reads the batch."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

pytestmark = pytest.mark.usefixtures("worker")


def test_a_schedule_with_targets_launches_one_batch_per_slot(client, users, add_devices, settings):
    from netraven_tasks.batches.models import Batch
    from netraven_tasks.db import session_factory
    from netraven_tasks.schedules.launcher import launch_schedule
    from netraven_tasks.schedules.models import Schedule
    from netraven_tasks.schedules.watch import _started_since

    add_devices([("s-1", "127.0.0.1"), ("s-2", "127.0.0.2"), ("s-3", "127.0.0.3")])
    body = {"job_type": "reachability_check", "arguments": {"port": 9}, "targets": {"site": "FRA"},
            "interval_seconds": 3600}  # fmt: skip
    created = client.post("/schedules", json=body, headers=users.alice.headers)
    assert created.status_code == 201, created.get_json()
    assert created.get_json()["targets"] == {"site": "FRA"}
    schedule_id = created.get_json()["id"]
    sessions = session_factory(settings)
    with sessions() as session:
        first = session.get(Schedule, schedule_id).next_run_at  # type: ignore[union-attr]

    assert launch_schedule(settings, sessions, schedule_id, first + timedelta(seconds=1)) == 1
    second = first + timedelta(hours=1)
    assert launch_schedule(settings, sessions, schedule_id, second + timedelta(seconds=1)) == 1
    with sessions.begin() as session:  # a second launcher on the same slot: taken, nothing launched
        session.get(Schedule, schedule_id).next_run_at = second  # type: ignore[union-attr]
    assert launch_schedule(settings, sessions, schedule_id, second + timedelta(seconds=1)) == 0

    with sessions() as session:
        batches = session.scalars(
            select(Batch).where(Batch.schedule_id == schedule_id).order_by(Batch.id)
        ).all()
        assert [(b.scheduled_for, b.total, b.owner_id) for b in batches] == [
            (first, 3, users.alice.id),
            (second, 3, users.alice.id),
        ]
    detail = client.get(f"/batches/{batches[0].id}", headers=users.alice.headers).get_json()
    assert detail["schedule_id"] == schedule_id

    with sessions() as session:  # the missed-run check sees the batch's slot start
        from tests.conftest import eventually

        eventually(lambda: _started_since(session, schedule_id)(second), message="the slot's batch to start")


def test_a_schedule_with_targets_refuses_the_device_argument_and_bad_targets(client, users):
    body = {"job_type": "reachability_check", "arguments": {"host": "10.0.0.1"}, "targets": {"site": "FRA"},
            "interval_seconds": 3600}  # fmt: skip
    response = client.post("/schedules", json=body, headers=users.alice.headers)
    assert response.status_code == 422 and "arguments" in response.get_json()["errors"]["json"]
    body = {**body, "arguments": {}, "targets": {"site": "FRA", "devices": ["a"]}}
    response = client.post("/schedules", json=body, headers=users.alice.headers)
    assert response.status_code == 422 and "targets" in response.get_json()["errors"]["json"]
