"""Who may call what: every operation of the spec needs a token unless it is declared public,
and each user sees only their own runs, statistics and preferences; an admin sees everyone's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

PUBLIC = {("get", "/healthz"), ("post", "/auth/token"), ("get", "/metrics")}
SAMPLE_PATH_VALUES = {
    "job_type": "test_flaky", "job_log_id": "1", "user_id": "me", "host": "sw-1", "sha256": "0" * 64,
    "schedule_id": "1", "item_id": "1",  # schedules and the inbox
    "name": "sw-1",  # the device inventory
    "batch_id": "1",  # fleet runs
    "token_id": "1",  # personal access tokens
    "message_id": "1",  # one notification
    "window_id": "1",  # maintenance windows
    "team_id": "1",  # teams
    "route_id": "1",  # routes
}  # fmt: skip


def operations(client):  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").get_json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if method in {"get", "post", "put", "patch", "delete"}:
                yield method, path, operation


def test_the_spec_declares_bearer_auth_on_every_private_operation(client):
    spec = client.get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer", "bearerFormat": "JWT",
    }  # fmt: skip
    assert spec["security"] == [{"bearerAuth": []}]
    for method, path, operation in operations(client):
        public = operation.get("security") == []
        assert public == ((method, path) in PUBLIC), (method, path)


def test_every_private_operation_answers_401_json_without_a_token(client, users):
    for method, path, _ in operations(client):
        if (method, path) in PUBLIC:
            continue
        url = path.format(**SAMPLE_PATH_VALUES)
        response = getattr(client, method)(url, json={})
        assert response.status_code == 401, (method, url)
        assert response.get_json()["code"] == 401


@pytest.fixture
def owned(users, insert_job_logs):  # type: ignore[no-untyped-def]
    now = datetime.now(UTC)
    alice_job, bob_job = insert_job_logs(
        [
            {"queued_at": now - timedelta(minutes=2), "owner_id": users.alice.id, "status": "failed",
             "device": "alice-sw", "duration_seconds": 1.0},
            {"queued_at": now - timedelta(minutes=1), "owner_id": users.bob.id, "status": "running",
             "device": "bob-sw"},
        ]
    )  # fmt: skip
    return alice_job, bob_job


def test_user_a_never_sees_user_b_data_and_admin_sees_both(client, users, owned):
    alice_job, bob_job = owned
    as_alice, as_bob, as_admin = users.alice.headers, users.bob.headers, users.admin.headers

    assert [r["id"] for r in client.get("/job-logs", headers=as_alice).get_json()] == [alice_job]
    assert [r["id"] for r in client.get("/job-logs", headers=as_bob).get_json()] == [bob_job]
    assert {r["id"] for r in client.get("/job-logs", headers=as_admin).get_json()} == {alice_job, bob_job}

    assert client.get(f"/job-logs/{bob_job}", headers=as_alice).status_code == 404
    assert client.get(f"/job-logs/{alice_job}", headers=as_bob).status_code == 404
    assert client.get(f"/job-logs/{alice_job}", headers=as_admin).status_code == 200

    assert [r["id"] for r in client.get("/job-logs/active", headers=as_bob).get_json()] == [bob_job]
    assert client.get("/job-logs/active", headers=as_alice).get_json() == []
    assert [r["id"] for r in client.get("/job-logs/active", headers=as_admin).get_json()] == [bob_job]

    stats = {name: client.get("/job-logs/statistics", headers=h).get_json() for name, h in
             (("alice", as_alice), ("bob", as_bob), ("admin", as_admin))}  # fmt: skip
    assert (stats["alice"]["total_jobs"], stats["alice"]["failed_jobs"], stats["alice"]["running_jobs"]) == (
        1,
        1,
        0,
    )
    assert (stats["bob"]["total_jobs"], stats["bob"]["failed_jobs"], stats["bob"]["running_jobs"]) == (
        1,
        0,
        1,
    )
    assert stats["admin"]["total_jobs"] == 2
    assert stats["bob"]["top_failing_devices"] == []
    assert [d["device"] for d in stats["alice"]["top_failing_devices"]] == ["alice-sw"]

    query = f"owner={users.bob.id}"
    assert client.get(f"/job-logs?{query}", headers=as_alice).get_json() == []  # only what she may see
    assert client.get(f"/job-logs/statistics?{query}", headers=as_alice).status_code == 403

    prefs = f"/users/{users.bob.id}/notification-preferences"
    assert client.get(prefs, headers=as_alice).status_code == 403
    assert client.patch(prefs, json={"email_notifications": False}, headers=as_alice).status_code == 403
    assert client.get(prefs, headers=as_admin).status_code == 200


def test_a_launched_run_belongs_to_the_caller_not_to_a_body_field(client, users, monkeypatch):
    from netraven_tasks.jobs.launch import LaunchedJob

    owners = []

    def record_owner(settings, job_type, arguments, owner_id, team_id=None):  # type: ignore[no-untyped-def]
        owners.append((arguments, owner_id))
        return LaunchedJob(job_log_id=7, task_id="t", status="queued")

    monkeypatch.setattr("api.jobs.launch_job", record_owner)
    # The job type's schema refuses the unknown field before anything is launched...
    response = client.post(
        "/jobs/test_flaky/runs", json={"owner_id": users.admin.id}, headers=users.alice.headers
    )
    assert response.status_code == 422 and "owner_id" in response.get_json()["message"]
    assert owners == []
    # ...and a valid launch belongs to the caller.
    response = client.post("/jobs/test_flaky/runs", json={"host": "sw-1"}, headers=users.alice.headers)
    assert response.status_code == 202
    assert owners == [({"host": "sw-1"}, users.alice.id)]
