"""A deactivated user's runs stop everywhere a run can start: beat's schedules (paused, with the
reason shown), the CLI's ``run --owner``, and the launcher itself; re-activation resumes nothing."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from celery import Celery

from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.jobs.launch_roles import OwnerDeactivated
from netraven_tasks.models import JobLog
from netraven_tasks.schedules.launcher import launch_due
from netraven_tasks.users import activate_user, deactivate_user
from tests.conftest import SPARE_REDIS_URL, eventually
from tests.security.test_accounts import cli

HOURLY = {"job_type": "test_flaky", "interval_seconds": 3600, "arguments": {"succeed_on_attempt": 1}}


@pytest.fixture
def beats_app(spare_redis) -> Iterator[Celery]:  # type: ignore[no-untyped-def]
    """An app on the spare broker, where no worker listens: what is published stays countable."""
    yield Celery("deactivation-test", broker=SPARE_REDIS_URL, set_as_current=False)


def _deactivate(settings, name: str) -> None:  # type: ignore[no-untyped-def]
    with session_factory(settings).begin() as session:
        deactivate_user(session, name)


def _runs(settings) -> int:  # type: ignore[no-untyped-def]
    with session_factory(settings)() as session:
        return session.query(JobLog).count()


def _due(described: dict) -> datetime:  # type: ignore[type-arg]
    return datetime.fromisoformat(described["next_run_at"]) + timedelta(seconds=1)


def test_deactivation_pauses_the_users_schedules_and_beat_launches_none(
    client, users, settings, beats_app, spare_redis
):
    created = client.post("/schedules", json=HOURLY, headers=users.alice.headers).get_json()
    _deactivate(settings, "alice")

    shown = client.get(f"/schedules/{created['id']}", headers=users.admin.headers).get_json()
    assert (shown["enabled"], shown["state"], shown["paused_reason"]) == (
        False,
        "paused",
        "owner deactivated",
    )
    assert shown["next_run_at"] is None
    sessions = session_factory(settings)
    assert launch_due(settings, sessions, _due(created), beats_app) == 0

    # An admin resuming it does not launch as alice either: the launch refuses, the schedule pauses again.
    resumed = client.patch(f"/schedules/{created['id']}", json={"enabled": True}, headers=users.admin.headers)
    assert resumed.status_code == 200 and resumed.get_json()["paused_reason"] is None
    assert launch_due(settings, sessions, _due(resumed.get_json()), beats_app) == 0
    shown = client.get(f"/schedules/{created['id']}", headers=users.admin.headers).get_json()
    assert (shown["enabled"], shown["paused_reason"]) == (False, "owner deactivated")
    assert _runs(settings) == 0 and spare_redis.llen("celery") == 0


def test_reactivating_a_user_leaves_their_schedules_paused_until_resumed(client, users, settings):
    created = client.post("/schedules", json=HOURLY, headers=users.alice.headers).get_json()
    _deactivate(settings, "alice")
    with session_factory(settings).begin() as session:
        activate_user(session, "alice")
    token = client.post("/auth/token", json={"username": "alice", "password": users.alice.password})
    headers = {"Authorization": f"Bearer {token.get_json()['access_token']}"}
    shown = client.get(f"/schedules/{created['id']}", headers=headers).get_json()
    assert (shown["enabled"], shown["paused_reason"]) == (False, "owner deactivated")
    resumed = client.patch(f"/schedules/{created['id']}", json={"enabled": True}, headers=headers).get_json()
    assert (resumed["enabled"], resumed["state"], resumed["paused_reason"]) == (True, "ok", None)


def test_no_launch_path_runs_as_a_deactivated_owner(users, settings, beats_app, spare_redis):
    _deactivate(settings, "bob")
    with pytest.raises(OwnerDeactivated, match="deactivated"):
        launch_job(settings, "test_flaky", {"succeed_on_attempt": 1}, users.bob.id, app=beats_app)
    refused = cli("run", "test_flaky", "--owner", "bob", "--arg", "succeed_on_attempt=1")
    assert refused.returncode == 2 and "deactivated" in refused.stderr, refused.stderr
    assert _runs(settings) == 0 and spare_redis.llen("celery") == 0


@pytest.mark.usefixtures("worker")
def test_deactivation_cancels_the_users_runs_that_have_not_started(users, settings, insert_job_logs):
    now = datetime.now(UTC)
    rows = [
        {"owner_id": users.alice.id, "status": "queued", "queued_at": now},
        {"owner_id": users.alice.id, "status": "retrying", "queued_at": now},
        {"owner_id": users.alice.id, "status": "completed", "queued_at": now},
        {"owner_id": users.bob.id, "status": "queued", "queued_at": now},
    ]
    alice_queued, alice_retrying, alice_done, bobs = insert_job_logs(rows)
    done = cli("users", "deactivate", "alice")
    assert done.returncode == 0 and "canceled 2 queued or retrying run(s) of alice" in done.stdout, (
        done.stderr
    )

    with session_factory(settings)() as session:  # written before the command returned
        canceled_by = {job.id: job.canceled_by for job in session.query(JobLog)}
    assert canceled_by == {
        alice_queued: users.alice.id,
        alice_retrying: users.alice.id,
        alice_done: None,
        bobs: None,
    }

    def statuses() -> dict[int, str]:
        with session_factory(settings)() as session:
            return {job.id: job.status for job in session.query(JobLog)}

    eventually(
        lambda: statuses() == {alice_queued: "canceled", alice_retrying: "canceled", alice_done: "completed",
                               bobs: "queued"},
        message=lambda: f"alice's pending runs canceled, nothing else: {statuses()}",
    )  # fmt: skip
