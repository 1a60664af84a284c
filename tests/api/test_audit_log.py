"""The audit log through the real API and worker: a walk over every state-changing operation of
the OpenAPI document (each must leave its row, in the transaction of its change), sign-ins,
secrets masked, nothing recorded for a change that did not happen, and ``GET /audit``."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from netraven_tasks.db import session_factory
from tests.conftest import eventually

STATE_CHANGING = {"post", "put", "patch", "delete"}
# Dashboard form posts are requests too; sign-in's second step (/ui/session) only sets the cookie
# for the token POST /auth/token just gave, and that sign-in is what is recorded.
UI_POSTS = {("POST", "/ui/sign-out")}
MAINTENANCE_WINDOW = {"starts_at": "2099-01-01T00:00:00Z", "ends_at": "2099-01-01T02:00:00Z",
                      "match": {"sites": ["FRA"]}, "reason": "CHG-1"}  # fmt: skip


@dataclass(frozen=True)
class Step:
    method: str
    path: str  # as the OpenAPI document writes it
    call: Callable[[], Any]  # makes the request; returns its response
    expected: int


def _actions(settings) -> list[tuple[str, str | None, str | None, dict[str, Any]]]:  # type: ignore[no-untyped-def]
    with session_factory(settings)() as session:
        rows = session.execute(
            sa.text("SELECT action, target_type, target_id, changes FROM audit_events ORDER BY id")
        )
        return [tuple(row) for row in rows]  # type: ignore[misc]


def team_steps(client, admin, member, state: dict[str, Any]) -> list[Step]:  # type: ignore[no-untyped-def]
    """Teams: create, rename, add a member, take them out, delete."""

    def create() -> Any:
        answer = client.post("/teams", json={"name": "walk"}, headers=admin.headers)
        state["team"] = answer.get_json()["id"]
        return answer

    def team(method: str, suffix: str = "", body: Any = None) -> Callable[[], Any]:
        return lambda: client.open(
            f"/teams/{state['team']}{suffix}", method=method, json=body, headers=admin.headers
        )

    members = f"/members/{member.id}"
    return [
        Step("POST", "/teams", create, 201),
        Step("PATCH", "/teams/{team_id}", team("PATCH", body={"name": "walk-2"}), 200),
        Step("PUT", "/teams/{team_id}/members/{user_id}", team("PUT", members, {"role": "manager"}), 200),
        Step("DELETE", "/teams/{team_id}/members/{user_id}", team("DELETE", members), 204),
        Step("DELETE", "/teams/{team_id}", team("DELETE"), 204),
    ]


ROUTE_BODY = {"name": "walk", "channel": "pagerduty", "target": "walk-routing-key-0123456789"}


def _route_id(client, admin) -> int:  # type: ignore[no-untyped-def]
    return int(client.get("/routes", headers=admin.headers).get_json()[0]["id"])


@pytest.mark.usefixtures("worker")
def test_every_state_changing_operation_writes_an_audit_row(
    client, app, users, settings, wait_for_job, tmp_path: Path
):
    alice, admin = users.alice, users.admin
    state: dict[str, Any] = {}

    def post(url: str, body: Any = None, user=alice):  # type: ignore[no-untyped-def]
        return client.post(url, json=body, headers=user.headers)

    def launch_slow() -> Any:
        answer = post("/jobs/test_slow_once/runs", {"marker": str(tmp_path / "slow"), "seconds": 30})
        state["slow"] = answer.get_json()["job_log_id"]
        wait_for_job(state["slow"], statuses={"running"})
        return answer

    def launch_broken() -> Any:
        answer = post("/jobs/test_broken/runs", {})
        state["broken"] = answer.get_json()["job_log_id"]
        wait_for_job(state["broken"], statuses={"failed"})
        return answer

    def add_device() -> Any:
        return post("/devices", {"name": "rtr-audit", "address": "127.0.0.1", "platform": "cisco_ios",
                                 "site": "FRA", "tags": ["core"]}, admin)  # fmt: skip

    def launch_batch() -> Any:
        answer = post(
            "/jobs/reachability_check/batches", {"targets": {"site": "FRA"}, "arguments": {"port": 9}}
        )
        state["batch"] = answer.get_json()["batch_id"]

        def settled() -> bool:
            batch = client.get(f"/batches/{state['batch']}", headers=alice.headers).get_json()
            return batch["status"] not in ("running",)

        eventually(settled, 30, "the batch to settle")
        return answer

    def launch_slow_batch() -> Any:
        body = {"targets": {"site": "FRA"}, "arguments": {"marker": str(tmp_path / "batch"), "seconds": 30}}
        answer = post("/jobs/test_slow_once/batches", body)
        state["slow_batch"] = answer.get_json()["batch_id"]
        return answer

    def cancel_slow_batch() -> Any:
        launch_slow_batch()
        return post(f"/batches/{state['slow_batch']}/cancel")

    def make_schedule() -> Any:
        body = {"job_type": "test_flaky", "interval_seconds": 3600, "arguments": {"succeed_on_attempt": 1}}
        answer = post("/schedules", body)
        state["schedule"] = answer.get_json()["id"]
        return answer

    def make_token() -> Any:
        answer = post("/users/me/tokens", {"name": "walk", "expires_in_days": 7})
        state["token"], state["secret"] = answer.get_json()["id"], answer.get_json()["token"]
        return answer

    def inbox_item() -> Any:
        insert = sa.text(
            "INSERT INTO inbox_items (user_id, message_id, event, subject, body, created_at) "
            "VALUES (:user, 'walk-1', 'failed', 's', 'b', now()) RETURNING id"
        )
        with session_factory(settings).begin() as session:
            state["inbox"] = session.execute(insert, {"user": alice.id}).scalar_one()
        return post(f"/users/me/inbox/{state['inbox']}/read")

    def sign_out() -> Any:
        from api.session_cookie import csrf_for

        token = client.post("/auth/token", json={"username": "bob", "password": users.bob.password})
        bearer = token.get_json()["access_token"]
        with app.test_request_context():
            csrf = csrf_for(bearer)
        client.set_cookie("netraven_session", bearer)
        return client.post("/ui/sign-out", data={"csrf_token": csrf})

    def sign_in() -> Any:
        return client.post("/auth/token", json={"username": "alice", "password": alice.password})

    def put_preferences() -> Any:
        body = client.get("/users/me/notification-preferences", headers=alice.headers).get_json()
        body["webhook_url"] = "https://hooks.example.com/T0/secret-path"
        return client.put("/users/me/notification-preferences", json=body, headers=alice.headers)

    def patch_preferences() -> Any:
        body = {"notification_frequency": "hourly"}
        return client.patch("/users/me/notification-preferences", json=body, headers=alice.headers)

    def patch_device() -> Any:
        return client.patch("/devices/rtr-audit", json={"tags": ["core", "edge"]}, headers=admin.headers)

    def patch_schedule() -> Any:
        return client.patch(f"/schedules/{state['schedule']}", json={"enabled": False}, headers=alice.headers)

    steps = [
        Step("POST", "/auth/token", sign_in, 200),
        Step("POST", "/jobs/{job_type}/runs", launch_slow, 202),
        Step("POST", "/job-logs/{job_log_id}/cancel", lambda: post(f"/job-logs/{state['slow']}/cancel"), 202),
        Step("POST", "/jobs/{job_type}/runs", launch_broken, 202),
        Step("POST", "/job-logs/{job_log_id}/rerun", lambda: post(f"/job-logs/{state['broken']}/rerun"), 202),
        Step("PUT", "/users/{user_id}/notification-preferences", put_preferences, 200),
        Step("PATCH", "/users/{user_id}/notification-preferences", patch_preferences, 200),
        Step("POST", "/devices", add_device, 201),
        Step("PATCH", "/devices/{name}", patch_device, 200),
        Step("POST", "/jobs/{job_type}/batches", launch_batch, 202),
        Step("POST", "/batches/{batch_id}/rerun", lambda: post(f"/batches/{state['batch']}/rerun"), 202),
        # a batch of 30 s jobs: still running when canceled, whatever a session worker does with it
        Step("POST", "/batches/{batch_id}/cancel", cancel_slow_batch, 202),
        Step(
            "DELETE",
            "/devices/{name}",
            lambda: client.delete("/devices/rtr-audit", headers=admin.headers),
            204,
        ),
        Step("POST", "/schedules", make_schedule, 201),
        Step("PATCH", "/schedules/{schedule_id}", patch_schedule, 200),
        Step(
            "DELETE",
            "/schedules/{schedule_id}",
            lambda: client.delete(f"/schedules/{state['schedule']}", headers=alice.headers),
            204,
        ),
        Step("POST", "/users/me/inbox/{item_id}/read", inbox_item, 200),
        Step("POST", "/users/{user_id}/tokens", make_token, 201),
        Step(
            "DELETE",
            "/users/{user_id}/tokens/{token_id}",
            lambda: client.delete(f"/users/me/tokens/{state['token']}", headers=alice.headers),
            204,
        ),
        Step(
            "POST",
            "/users/me/notifications/test",
            lambda: post("/users/me/notifications/test", {"channel": "email"}),
            202,
        ),
        # maintenance windows (an upcoming one: it may be deleted)
        Step(
            "POST",
            "/maintenance-windows",
            lambda: post("/maintenance-windows", MAINTENANCE_WINDOW, admin),
            201,
        ),
        Step(
            "PATCH",
            "/maintenance-windows/{window_id}",
            lambda: client.patch("/maintenance-windows/1", json={"reason": "CHG-2"}, headers=admin.headers),
            200,
        ),
        Step(
            "DELETE",
            "/maintenance-windows/{window_id}",
            lambda: client.delete("/maintenance-windows/1", headers=admin.headers),
            204,
        ),
        # routes: an admins' route made, changed and deleted (its target is masked in the row)
        Step("POST", "/routes", lambda: post("/routes", ROUTE_BODY, admin), 201),
        Step(
            "PATCH",
            "/routes/{route_id}",
            lambda: client.patch(
                f"/routes/{_route_id(client, admin)}", json={"enabled": False}, headers=admin.headers
            ),
            200,
        ),
        Step(
            "DELETE",
            "/routes/{route_id}",
            lambda: client.delete(f"/routes/{_route_id(client, admin)}", headers=admin.headers),
            204,
        ),
        Step("POST", "/ui/sign-out", sign_out, 303),
        *team_steps(client, admin, alice, state),
    ]

    covered: set[tuple[str, str]] = set()
    for step in steps:
        before = len(_actions(settings))
        answer = step.call()
        assert answer.status_code == step.expected, (step.method, step.path, answer.get_json(silent=True))
        action = "sign_in" if step.path == "/auth/token" else f"{step.method} {step.path}"
        new = [row for row in _actions(settings)[before:] if row[0] == action]
        assert new, f"{step.method} {step.path} wrote no audit row (got {_actions(settings)[before:]})"
        covered.add((step.method, step.path))

    spec = client.get("/openapi.json").get_json()
    operations = {(m.upper(), p) for p, item in spec["paths"].items() for m in item if m in STATE_CHANGING}
    missing = operations - covered
    assert not missing, f"state-changing operations the walk does not cover: {sorted(missing)}"
    assert covered >= UI_POSTS
    print(f"audit walk: {len(operations)} API operations and {len(UI_POSTS)} dashboard post covered")

    rows = _actions(settings)
    put_prefs = next(r for r in rows if r[0] == "PUT /users/{user_id}/notification-preferences")
    text = str(put_prefs[3])
    assert "secret-path" not in text and "hooks.example.com" in text, text
    token_row = next(r for r in rows if r[0] == "POST /users/{user_id}/tokens")
    assert token_row[1] == "personal_access_tokens" and state["secret"] not in str(token_row[3])
    assert "***" in str(token_row[3])  # the secret's digest is masked too
    launch_row = next(r for r in rows if r[0] == "POST /jobs/{job_type}/runs")
    assert launch_row[1] == "job_logs" and launch_row[2] == str(state["slow"])
    patch_row = next(r for r in rows if r[0] == "PATCH /schedules/{schedule_id}")
    [change] = patch_row[3].values()
    assert change["before"]["enabled"] is True and change["after"]["enabled"] is False
    route_row = next(r for r in rows if r[0] == "POST /routes")
    assert route_row[1] == "routes" and ROUTE_BODY["target"] not in str(route_row[3])


def test_sign_ins_are_recorded_success_and_failure(client, users, settings):
    assert client.post("/auth/token", json={"username": "alice", "password": "wrong"}).status_code == 401
    assert client.post("/auth/token", json={"username": "nobody", "password": "x"}).status_code == 401
    assert (
        client.post("/auth/token", json={"username": "alice", "password": users.alice.password}).status_code
        == 200
    )
    with session_factory(settings)() as session:
        rows = session.execute(
            sa.text("SELECT action, actor, changes, address FROM audit_events ORDER BY id")
        ).all()
    assert [(r.action, r.actor) for r in rows] == [
        ("sign_in_failed", "-"),
        ("sign_in_failed", "-"),
        ("sign_in", "alice"),
    ]
    assert rows[0].changes["request"]["reason"] == "wrong password" and "wrong" not in str(
        rows[0].changes
    ).replace("wrong password", "")
    assert rows[1].changes["request"]["reason"] == "unknown user"
    assert all(r.address == "127.0.0.1" for r in rows)


def test_a_refused_or_invalid_request_writes_no_row(client, users, settings):
    assert (
        client.post("/schedules", json={"job_type": "nope"}, headers=users.alice.headers).status_code == 422
    )
    assert client.delete("/devices/nothing", headers=users.alice.headers).status_code == 403
    assert client.post("/users/me/tokens", json={"name": ""}, headers=users.alice.headers).status_code == 422
    with session_factory(settings)() as session:
        assert session.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one() == 0


def test_the_audit_log_is_for_admins_with_filters(client, users, settings):
    for name in ("one", "two"):
        assert (
            client.post("/users/me/tokens", json={"name": name}, headers=users.alice.headers).status_code
            == 201
        )
    assert (
        client.post("/users/me/tokens", json={"name": "three"}, headers=users.bob.headers).status_code == 201
    )
    assert client.get("/audit", headers=users.alice.headers).status_code == 403
    assert client.get("/audit").status_code == 401
    everything = client.get("/audit", headers=users.admin.headers).get_json()
    assert [e["actor"] for e in everything] == ["bob", "alice", "alice"]
    by_alice = client.get("/audit?actor=alice", headers=users.admin.headers).get_json()
    assert len(by_alice) == 2 and {e["target_type"] for e in by_alice} == {"personal_access_tokens"}
    assert client.get("/audit?action=POST%20/users", headers=users.admin.headers).get_json() == everything
    assert client.get("/audit?action=DELETE", headers=users.admin.headers).get_json() == []
    future = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
    assert client.get("/audit", query_string={"since": future}, headers=users.admin.headers).get_json() == []
    assert (
        len(
            client.get(
                "/audit", query_string={"until": future, "limit": 1}, headers=users.admin.headers
            ).get_json()
        )
        == 1
    )
    bad = client.get("/audit?limit=0", headers=users.admin.headers)
    assert bad.status_code == 422 and "limit" in bad.get_json()["message"]


def test_retention_deletes_audit_rows_older_than_the_setting(client, users, settings):
    from netraven_tasks.retention import purge_expired

    assert (
        client.post("/users/me/tokens", json={"name": "old"}, headers=users.alice.headers).status_code == 201
    )
    assert (
        client.post("/users/me/tokens", json={"name": "new"}, headers=users.alice.headers).status_code == 201
    )
    with session_factory(settings).begin() as session:
        session.execute(sa.text("UPDATE audit_events SET at = now() - interval '400 days' WHERE id = 1"))
    report = purge_expired(settings, session_factory(settings), datetime.now(UTC))
    assert report.audit_events == 1
    assert [e["id"] for e in client.get("/audit", headers=users.admin.headers).get_json()] == [2]
