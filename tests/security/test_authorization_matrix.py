"""The authorisation matrix through the real API: every operation of the OpenAPI document that
touches a run, a batch, a schedule or a team, for each kind of caller.

The expectations are written here, as a reader states the rules, not read from
``netraven_tasks.access.policy``: a change of the code's table that this one does not share fails.
The world: team A (alice and bob members, dave its manager), team B (carol); alice owns a run, a
batch and a schedule of team A; root is an admin. "listed"/"hidden": a list (or the live stream)
shows alice's object, or answers without it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest

from netraven_tasks.db import session_factory
from netraven_tasks.tracking.live import LiveFeed

ACTORS = ("owner", "member", "manager", "other", "admin", "anonymous")
USERS = {"owner": "alice", "member": "bob", "manager": "dave", "other": "carol", "admin": "root"}


def team_wide(ok: int | str) -> dict[str, int | str]:
    """Alice's object: her team sees and acts on it; another team gets 404 (it does not exist)."""
    hidden = "hidden" if isinstance(ok, str) else 404
    return {"owner": ok, "member": ok, "manager": ok, "other": hidden, "admin": ok, "anonymous": 401}


def into_team_a(ok: int) -> dict[str, int | str]:
    """A launch into team A: its members and admins; another team's member is refused (403)."""
    return {"owner": ok, "member": ok, "manager": ok, "other": 403, "admin": ok, "anonymous": 401}


def everyone(ok: int) -> dict[str, int | str]:
    return {actor: ok for actor in ACTORS} | {"anonymous": 401}


def only(ok: int, *allowed: str) -> dict[str, int | str]:
    return {actor: ok if actor in allowed else 403 for actor in ACTORS} | {"anonymous": 401}


LISTED = "listed"
MATRIX: dict[str, dict[str, int | str]] = {
    "GET /job-logs": team_wide(LISTED),
    "GET /job-logs/active": team_wide(LISTED),
    "GET /job-logs/stream": team_wide(LISTED),
    "GET /job-logs/statistics": everyone(200),  # each caller's own numbers (rollups are per owner)
    "GET /job-logs/{job_log_id}": team_wide(200),
    "POST /job-logs/{job_log_id}/cancel": team_wide(202),
    "POST /job-logs/{job_log_id}/rerun": team_wide(202),
    "POST /jobs/{job_type}/runs": into_team_a(202),
    "POST /jobs/{job_type}/batches": into_team_a(202),
    "GET /batches": team_wide(LISTED),
    "GET /batches/{batch_id}": team_wide(200),
    "POST /batches/{batch_id}/cancel": team_wide(202),
    "POST /batches/{batch_id}/rerun": team_wide(202),
    "GET /schedules": team_wide(LISTED),
    "POST /schedules": into_team_a(201),
    "GET /schedules/preview": everyone(200),  # a timing's next runs: no one's object
    "GET /schedules/{schedule_id}": team_wide(200),
    "PATCH /schedules/{schedule_id}": team_wide(200),  # edit, pause
    # deleting takes it from the whole team: its owner, the team's manager, an admin
    "DELETE /schedules/{schedule_id}": team_wide(204) | {"member": 403},
    "GET /teams": everyone(200),
    "POST /teams": only(201, "admin"),
    "GET /teams/{team_id}": only(200, "owner", "member", "manager", "admin"),  # its member list
    "PATCH /teams/{team_id}": only(200, "manager", "admin"),
    "DELETE /teams/{team_id}": only(204, "admin"),
    "PUT /teams/{team_id}/members/{user_id}": only(200, "manager", "admin"),
    "DELETE /teams/{team_id}/members/{user_id}": only(204, "manager", "admin"),
}
TOUCHED = (
    "/job-logs",
    "/batches",
    "/schedules",
    "/teams",
    "/jobs/{job_type}/runs",
    "/jobs/{job_type}/batches",
)


@dataclass
class World:
    headers: dict[str, dict[str, str]]
    ids: dict[str, int]
    team_a: int
    team_b: int


def _insert(settings, rows: list[Any]) -> list[int]:  # type: ignore[no-untyped-def]
    with session_factory(settings).begin() as session:
        session.add_all(rows)
        session.flush()
        return [getattr(row, "id", 0) for row in rows]


def _run(owner: int, team: int, status: str, **values: Any) -> Any:
    from netraven_tasks.models import JobLog

    now = datetime.now(UTC)
    defaults = {"job_type": "test_broken", "args": {}, "attempts": 1, "queued_at": now, "updated_at": now}
    return JobLog(
        task_id=str(uuid.uuid4()), status=status, owner_id=owner, team_id=team, **(defaults | values)
    )


@pytest.fixture
def world(client, make_api_user, settings) -> World:  # type: ignore[no-untyped-def]
    from netraven_tasks.batches.models import Batch
    from netraven_tasks.teams.models import Team, TeamMember

    people = {name: make_api_user(name, admin=name == "root") for name in USERS.values()}
    team_a, team_b = _insert(settings, [Team(name="A", description=""), Team(name="B", description="")])
    _insert(
        settings,
        [
            TeamMember(team_id=team_a, user_id=people["alice"].id, role="member"),
            TeamMember(team_id=team_a, user_id=people["bob"].id, role="member"),
            TeamMember(team_id=team_a, user_id=people["dave"].id, role="manager"),
            TeamMember(team_id=team_b, user_id=people["carol"].id, role="member"),
        ],
    )
    admin, alice = people["root"].headers, people["alice"]
    device = {"name": "rtr-m", "address": "127.0.0.1", "platform": "generic", "site": "FRA"}
    assert client.post("/devices", json=device, headers=admin).status_code == 201
    batch = {"job_type": "reachability_check", "total": 1, "arguments": {"port": 9},
             "targets": {"devices": ["rtr-m"]}, "owner_id": alice.id, "team_id": team_a}  # fmt: skip
    running, done = _insert(settings, [Batch(**batch, queued=1), Batch(**batch, status="failed", failed=1)])
    done_run, queued_run, _, _, carols = _insert(
        settings,
        [
            _run(alice.id, team_a, "failed"),
            _run(alice.id, team_a, "queued"),
            _run(alice.id, team_a, "queued", job_type="reachability_check", device="rtr-m", batch_id=running),
            _run(alice.id, team_a, "failed", job_type="reachability_check", device="rtr-m", batch_id=done),
            _run(people["carol"].id, team_b, "failed"),
        ],
    )
    body = {"job_type": "test_flaky", "interval_seconds": 3600, "arguments": {}, "team_id": team_a}
    schedule = client.post("/schedules", json=body, headers=alice.headers).get_json()["id"]
    return World(
        headers={actor: people[name].headers for actor, name in USERS.items()} | {"anonymous": {}},
        ids={
            "done_run": done_run,
            "queued_run": queued_run,
            "running_batch": running,
            "done_batch": done,
            "schedule": schedule,
            "carols_run": carols,
            "bob": people["bob"].id,
            "carol": people["carol"].id,
        }
        | {actor: people[name].id for actor, name in USERS.items()},
        team_a=team_a,
        team_b=team_b,
    )


def _listed(answer: Any, wanted: int) -> int | str:
    if answer.status_code != 200:
        return int(answer.status_code)
    return LISTED if wanted in {row["id"] for row in answer.get_json()} else "hidden"


def _streamed(client, world: World, actor: str, redis_client) -> int | str:  # type: ignore[no-untyped-def]
    """Open the stream as ``actor``, publish alice's team-A row, then a sentinel row of the actor's
    own: the sentinel arriving proves alice's row had its chance to come first."""
    response = client.get("/job-logs/stream", headers=world.headers[actor], buffered=False)
    if response.status_code != 200:
        return int(response.status_code)
    chunks = iter(response.response)
    next(chunks)  # "retry:" and ": connected": the stream reads from here on
    sentinel = {"id": -1, "owner_id": world.ids[actor], "team_id": None, "status": "queued"}
    live = LiveFeed(redis_client)
    live.publish(
        [{"id": world.ids["queued_run"], "owner_id": None, "team_id": world.team_a, "status": "running"}]
    )
    live.publish([sentinel])
    seen: list[int] = []
    deadline = time.monotonic() + 20
    try:
        while -1 not in seen and time.monotonic() < deadline:
            text = next(chunks).decode()
            seen += [json.loads(line[6:])["id"] for line in text.splitlines() if line.startswith("data: ")]
    finally:
        response.close()
    assert -1 in seen, "the sentinel never came"
    return LISTED if world.ids["queued_run"] in seen else "hidden"


def request_for(operation: str, world: World) -> tuple[str, str, Any]:
    """The request that exercises ``operation`` on alice's objects (or into team A)."""
    ids, a = world.ids, world.team_a
    return {
        "GET /job-logs/statistics": ("GET", "/job-logs/statistics", None),
        "GET /job-logs/{job_log_id}": ("GET", f"/job-logs/{ids['done_run']}", None),
        "POST /job-logs/{job_log_id}/cancel": ("POST", f"/job-logs/{ids['queued_run']}/cancel", None),
        "POST /job-logs/{job_log_id}/rerun": ("POST", f"/job-logs/{ids['done_run']}/rerun", None),
        "POST /jobs/{job_type}/runs": ("POST", f"/jobs/test_flaky/runs?team_id={a}", {}),
        "POST /jobs/{job_type}/batches": (
            "POST", "/jobs/reachability_check/batches",
            {"targets": {"devices": ["rtr-m"]}, "arguments": {"port": 9}, "team_id": a},
        ),
        "GET /batches/{batch_id}": ("GET", f"/batches/{ids['running_batch']}", None),
        "POST /batches/{batch_id}/cancel": ("POST", f"/batches/{ids['running_batch']}/cancel", None),
        "POST /batches/{batch_id}/rerun": ("POST", f"/batches/{ids['done_batch']}/rerun", None),
        "POST /schedules": (
            "POST", "/schedules", {"job_type": "test_flaky", "interval_seconds": 3600, "team_id": a},
        ),
        "GET /schedules/preview": ("GET", "/schedules/preview?cron=0+2+*+*+*&timezone=Europe/Berlin", None),
        "GET /schedules/{schedule_id}": ("GET", f"/schedules/{ids['schedule']}", None),
        "PATCH /schedules/{schedule_id}": ("PATCH", f"/schedules/{ids['schedule']}", {"enabled": False}),
        "DELETE /schedules/{schedule_id}": ("DELETE", f"/schedules/{ids['schedule']}", None),
        "GET /teams": ("GET", "/teams", None),
        "POST /teams": ("POST", "/teams", {"name": "C"}),
        "GET /teams/{team_id}": ("GET", f"/teams/{a}", None),
        "PATCH /teams/{team_id}": ("PATCH", f"/teams/{a}", {"name": "A-renamed"}),
        "DELETE /teams/{team_id}": ("DELETE", f"/teams/{a}", None),
        "PUT /teams/{team_id}/members/{user_id}": (
            "PUT", f"/teams/{a}/members/{ids['carol']}", {"role": "member"},
        ),
        "DELETE /teams/{team_id}/members/{user_id}": ("DELETE", f"/teams/{a}/members/{ids['bob']}", None),
    }[operation]  # fmt: skip


LISTS: dict[str, tuple[str, str]] = {
    "GET /job-logs": ("/job-logs", "done_run"),
    "GET /job-logs/active": ("/job-logs/active", "queued_run"),
    "GET /batches": ("/batches", "running_batch"),
    "GET /schedules": ("/schedules", "schedule"),
}


def outcome(client, world: World, operation: str, actor: str, redis_client) -> int | str:  # type: ignore[no-untyped-def]
    headers = world.headers[actor]
    if operation == "GET /job-logs/stream":
        return _streamed(client, world, actor, redis_client)
    if operation in LISTS:
        url, key = LISTS[operation]
        return _listed(client.get(url, headers=headers), world.ids[key])
    method, url, body = request_for(operation, world)
    call: Callable[..., Any] = getattr(client, method.lower())
    return int(call(url, json=body, headers=headers).status_code)


def test_the_matrix_names_every_operation_on_runs_batches_schedules_and_teams(client):
    spec = client.get("/openapi.json").get_json()
    operations = {
        f"{method.upper()} {path}"
        for path, item in spec["paths"].items()
        for method in item
        if method in {"get", "post", "put", "patch", "delete"} and path.startswith(TOUCHED)
    }
    assert operations == set(MATRIX), (
        f"add to MATRIX: {operations - set(MATRIX)}; gone: {set(MATRIX) - operations}"
    )


@pytest.mark.parametrize("actor", ACTORS)
@pytest.mark.parametrize("operation", sorted(MATRIX))
def test_authorization_matrix(client, world, operation, actor, redis_client):
    assert outcome(client, world, operation, actor, redis_client) == MATRIX[operation][actor]


def test_bob_sees_alices_team_run_and_not_carols(client, world):
    as_bob = world.headers["member"]
    alices, carols = world.ids["done_run"], world.ids["carols_run"]
    assert client.get(f"/job-logs/{alices}", headers=as_bob).get_json()["team_id"] == world.team_a
    assert client.get(f"/job-logs/{carols}", headers=as_bob).status_code == 404
    assert client.post(f"/job-logs/{carols}/rerun", headers=as_bob).status_code == 404
    listed = {row["id"] for row in client.get("/job-logs", headers=as_bob).get_json()}
    assert alices in listed and carols not in listed
    assert client.get(f"/job-logs/{carols}", headers=world.headers["other"]).status_code == 200
