"""``/schedules``: validated like a launch, owned by their creator, with their next and last run.

Beat itself is exercised in tests/schedules/; here no beat runs, so nothing is launched.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

NIGHTLY = {
    "job_type": "test_flaky",
    "arguments": {"host": "core-rtr-01", "succeed_on_attempt": 1},
    "cron": "0 2 * * *",
    "timezone": "Europe/Berlin",
    "description": "nightly backup",
}


def create(client, user, body):  # type: ignore[no-untyped-def]
    return client.post("/schedules", json=body, headers=user.headers)


def test_create_a_cron_schedule_answers_201_with_its_next_slot_in_its_time_zone(client, users):
    response = create(client, users.alice, NIGHTLY)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == f"/schedules/{body['id']}"
    assert body["owner_id"] == users.alice.id and body["state"] == "ok" and body["enabled"] is True
    assert body["arguments"] == {"host": "core-rtr-01", "succeed_on_attempt": 1}
    next_run = datetime.fromisoformat(body["next_run_at"])
    assert next_run > datetime.now(UTC) and next_run - datetime.now(UTC) <= timedelta(days=1)
    assert next_run.astimezone(UTC).hour in (0, 1) and next_run.minute == 0  # 02:00 in Berlin
    assert body["grace_seconds"] == 86400 // 5  # a fifth of the day
    assert body["last_run_at"] is None and body["last_job_log_id"] is None and body["last_status"] is None


def test_interval_schedule_gets_a_grace_of_at_least_a_minute(client, users):
    body = create(client, users.alice, {"job_type": "test_flaky", "interval_seconds": 120}).get_json()
    assert body["interval_seconds"] == 120 and body["cron"] is None and body["grace_seconds"] == 60
    assert body["arguments"] == {"host": "lab-sw-01", "succeed_on_attempt": 0}  # the job's defaults


@pytest.mark.parametrize(
    ("body", "field", "fragment"),
    [
        ({"job_type": "no_such_job", "interval_seconds": 60}, "job_type", "unknown job type"),
        ({"job_type": "test_flaky", "interval_seconds": 60, "arguments": {"nope": 1}}, "arguments", "nope"),
        (
            {"job_type": "test_flaky", "interval_seconds": 60, "arguments": {"succeed_on_attempt": "x"}},
            "arguments",
            "succeed_on_attempt",
        ),
        ({"job_type": "test_flaky"}, "interval_seconds", "exactly one"),
        ({"job_type": "test_flaky", "interval_seconds": 60, "cron": "* * * * *"}, "interval_seconds", "one"),
        ({"job_type": "test_flaky", "interval_seconds": 0}, "interval_seconds", "at least"),
        ({"job_type": "test_flaky", "interval_seconds": "60"}, "interval_seconds", "integer"),
        ({"job_type": "test_flaky", "cron": "0 2 * *"}, "cron", "five fields"),
        ({"job_type": "test_flaky", "cron": "99 2 * * *"}, "cron", "not a valid cron"),
        ({"job_type": "test_flaky", "cron": "0 2 * * *", "timezone": "Mars/Olympus"}, "timezone", "zone"),
        ({"job_type": "test_flaky", "cron": "0 2 * * *", "timezone": "../../etc/passwd"}, "timezone", "zone"),
        ({"job_type": "test_flaky", "interval_seconds": 60, "enabled": "yes"}, "enabled", "true or false"),
        ({"job_type": "test_flaky", "interval_seconds": 60, "owner_id": 1}, "owner_id", "Unknown"),
        ({"job_type": "test_flaky", "interval_seconds": 60, "grace_seconds": -1}, "grace_seconds", ""),
    ],
)
def test_bad_schedule_is_422_naming_the_field_and_nothing_is_stored(client, users, body, field, fragment):
    response = create(client, users.alice, body)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert field in error["errors"]["json"], error
    assert fragment in str(error["errors"]["json"][field]) and field in error["message"]
    assert client.get("/schedules", headers=users.alice.headers).get_json() == []


def test_the_minimum_interval_comes_from_the_settings(client, users, settings):
    assert settings.schedule_min_interval_seconds == 1  # lowered for the tests; 60 by default
    from netraven_tasks.settings import Settings

    assert Settings.from_env({"NETRAVEN_SECRET_KEY": "k" * 20}).schedule_min_interval_seconds == 60


def test_owners_see_their_own_schedules_and_admins_see_all(client, users):
    mine = create(client, users.alice, NIGHTLY).get_json()
    bobs = create(client, users.bob, {**NIGHTLY, "description": "bob's"}).get_json()
    assert [s["id"] for s in client.get("/schedules", headers=users.alice.headers).get_json()] == [mine["id"]]
    assert {s["id"] for s in client.get("/schedules", headers=users.admin.headers).get_json()} == {
        mine["id"],
        bobs["id"],
    }
    for method in ("get", "patch", "delete"):
        call = getattr(client, method)
        kwargs = {"json": {"enabled": False}} if method == "patch" else {}
        assert call(f"/schedules/{bobs['id']}", headers=users.alice.headers, **kwargs).status_code == 404
    assert client.get(f"/schedules/{bobs['id']}", headers=users.bob.headers).get_json()["enabled"] is True
    assert client.get(f"/schedules/{bobs['id']}", headers=users.admin.headers).status_code == 200
    assert client.get("/schedules", headers={}).status_code == 401


def test_patch_pause_resume_and_switch_from_cron_to_interval(client, users):
    created = create(client, users.alice, NIGHTLY).get_json()
    url = f"/schedules/{created['id']}"
    paused = client.patch(url, json={"enabled": False}, headers=users.alice.headers).get_json()
    assert paused["state"] == "paused" and paused["next_run_at"] is None
    resumed = client.patch(url, json={"enabled": True}, headers=users.alice.headers).get_json()
    assert resumed["state"] == "ok" and resumed["next_run_at"] == created["next_run_at"]
    switched = client.patch(url, json={"interval_seconds": 300}, headers=users.alice.headers).get_json()
    assert switched["cron"] is None and switched["interval_seconds"] == 300
    assert switched["grace_seconds"] == 60
    next_run = datetime.fromisoformat(switched["next_run_at"])
    assert next_run.timestamp() % 300 == 0 and next_run - datetime.now(UTC) <= timedelta(seconds=300)
    bad = client.patch(url, json={"cron": "not cron", "interval_seconds": None}, headers=users.alice.headers)
    assert bad.status_code == 422 and "cron" in bad.get_json()["errors"]["json"]
    assert client.get(url, headers=users.alice.headers).get_json()["interval_seconds"] == 300


def test_delete_keeps_the_runs_without_their_schedule(client, users, insert_job_logs, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog

    created = create(client, users.alice, NIGHTLY).get_json()
    slot = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    (run,) = insert_job_logs(
        [{"queued_at": slot, "owner_id": users.alice.id, "schedule_id": created["id"], "scheduled_for": slot}]
    )
    listed = client.get(f"/schedules/{created['id']}", headers=users.alice.headers).get_json()
    assert listed["last_job_log_id"] == run and listed["last_status"] == "completed"
    runs = client.get(f"/job-logs?schedule_id={created['id']}", headers=users.alice.headers).get_json()
    assert [r["id"] for r in runs] == [run] and runs[0]["schedule_id"] == created["id"]
    assert client.delete(f"/schedules/{created['id']}", headers=users.alice.headers).status_code == 204
    assert client.get(f"/schedules/{created['id']}", headers=users.alice.headers).status_code == 404
    with session_factory(settings)() as session:
        assert session.get(JobLog, run).schedule_id is None  # type: ignore[union-attr]


def test_one_run_per_schedule_and_slot_is_enforced_by_the_database(client, users, settings):
    from netraven_tasks.db import session_factory
    from netraven_tasks.schedules.runs import SlotTaken, insert_scheduled_row

    created = create(client, users.alice, NIGHTLY).get_json()
    slot = datetime(2026, 1, 1, 1, 0, tzinfo=UTC)
    row = {"job_type": "test_flaky", "device": "r1", "owner_id": users.alice.id, "args": {}}
    with session_factory(settings).begin() as session:
        insert_scheduled_row(session, task_id="t-1", schedule_id=created["id"], slot=slot, **row)
    with pytest.raises(SlotTaken), session_factory(settings).begin() as session:
        insert_scheduled_row(session, task_id="t-2", schedule_id=created["id"], slot=slot, **row)
    runs = client.get(f"/job-logs?schedule_id={created['id']}", headers=users.alice.headers).get_json()
    assert [r["task_id"] for r in runs] == ["t-1"]


def test_a_schedule_obeys_the_job_types_launch_roles(client, users, settings):
    backup = {"job_type": "config_backup", "interval_seconds": 3600}
    admin_only = {**backup, "arguments": {"host": "edge-1", "driver": "file", "source": "/etc/passwd"}}
    refused = create(client, users.bob, admin_only)
    assert refused.status_code == 403, refused.get_json()
    assert "admin" in refused.get_json()["message"]
    assert client.get("/schedules", headers=users.bob.headers).get_json() == []
    # A schedule bob may have cannot be changed into one he may not.
    allowed = create(
        client,
        users.bob,
        {**backup, "arguments": {"host": "edge-1", "driver": "url", "source": "https://example.net/c"}},
    )
    assert allowed.status_code == 201, allowed.get_json()
    schedule_id = allowed.get_json()["id"]
    changed = client.patch(
        f"/schedules/{schedule_id}", headers=users.bob.headers, json={"arguments": admin_only["arguments"]}
    )
    assert changed.status_code == 403
    assert (
        client.get(f"/schedules/{schedule_id}", headers=users.bob.headers).get_json()["arguments"]["driver"]
        == "url"
    )


def test_beat_does_not_launch_what_the_owner_may_no_longer_launch(client, users, settings):
    """An admin's file-driver schedule whose owner was demoted: the slot is not launched."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog, User
    from netraven_tasks.schedules.launcher import launch_due

    body = {
        "job_type": "config_backup",
        "interval_seconds": 3600,
        "arguments": {"host": "edge-1", "driver": "file", "source": "/etc/passwd"},
    }
    created = create(client, users.admin, body)
    assert created.status_code == 201, created.get_json()
    sessions = session_factory(settings)
    with sessions.begin() as session:
        session.get(User, users.admin.id).is_admin = False
    due = datetime.fromisoformat(created.get_json()["next_run_at"]) + timedelta(seconds=1)
    assert launch_due(settings, sessions, due) == 0
    with sessions() as session:
        assert session.query(JobLog).count() == 0


def test_beat_publishes_due_slots_through_its_own_app(client, users, settings, spare_redis):
    """launch_due publishes through the app it is given (beat's ``self.app``), not the process's."""
    from celery import Celery

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog
    from netraven_tasks.schedules.launcher import launch_due
    from tests.conftest import SPARE_REDIS_URL

    body = {"job_type": "reachability_check", "interval_seconds": 3600, "arguments": {"host": "r1"}}
    created = create(client, users.alice, body)
    assert created.status_code == 201, created.get_json()
    beats_app = Celery("beat-test", broker=SPARE_REDIS_URL, set_as_current=False)
    due = datetime.fromisoformat(created.get_json()["next_run_at"]) + timedelta(seconds=1)
    assert launch_due(settings, session_factory(settings), due, beats_app) == 1
    # On beat's broker, where no worker listens; the session worker's broker never saw it.
    assert spare_redis.llen("celery") == 1
    with session_factory(settings)() as session:
        assert [job.status for job in session.query(JobLog)] == ["queued"]
