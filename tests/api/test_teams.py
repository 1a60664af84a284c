"""Teams through the API: what each answer holds, bad input named by field, and team_id at launch
(stored on the row, shown in its JSON; refused for a team the caller is not in, or none at all)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest


@pytest.fixture
def team(client, users) -> int:  # type: ignore[no-untyped-def]
    made = client.post(
        "/teams", json={"name": "NOC FRA", "description": "site FRA"}, headers=users.admin.headers
    )
    assert made.status_code == 201 and made.headers["Location"].endswith(f"/teams/{made.get_json()['id']}")
    team_id = int(made.get_json()["id"])
    added = client.put(f"/teams/{team_id}/members/{users.alice.id}", json={}, headers=users.admin.headers)
    assert added.get_json() == {"user_id": users.alice.id, "username": "alice", "role": "member"}
    return team_id


def test_a_team_lists_its_members_to_them_and_its_name_to_everyone(client, users, team):
    detail = client.get(f"/teams/{team}", headers=users.alice.headers).get_json()
    assert detail["members"] == [{"user_id": users.alice.id, "username": "alice", "role": "member"}]
    assert detail["my_role"] == "member" and detail["member_count"] == 1
    [listed] = client.get("/teams", headers=users.bob.headers).get_json()
    assert listed["name"] == "NOC FRA" and listed["my_role"] is None and "members" not in listed
    refused = client.get(f"/teams/{team}", headers=users.bob.headers)
    assert refused.status_code == 403 and "team 'NOC FRA'" in refused.get_json()["message"]


def test_bad_input_names_the_field_and_changes_nothing(client, users, team):
    admin = users.admin.headers
    taken = client.post("/teams", json={"name": "NOC FRA"}, headers=admin)
    assert taken.status_code == 409 and taken.get_json()["message"].startswith("name:")
    assert client.post("/teams", json={"name": ""}, headers=admin).get_json()["errors"]["json"]["name"]
    role = client.put(f"/teams/{team}/members/{users.bob.id}", json={"role": "boss"}, headers=admin)
    assert role.status_code == 422 and "role" in role.get_json()["errors"]["json"]
    assert client.put(f"/teams/{team}/members/99999", json={}, headers=admin).status_code == 404
    assert client.put(f"/teams/{team}/members/%C2%B2", json={}, headers=admin).status_code == 404
    assert client.get("/teams/99999", headers=admin).status_code == 404
    assert client.delete(f"/teams/{team}/members/{users.bob.id}", headers=admin).status_code == 404
    assert client.get(f"/teams/{team}", headers=admin).get_json()["member_count"] == 1


def test_a_manager_renames_and_manages_members_but_does_not_delete(client, users, team):
    admin = users.admin.headers
    client.put(f"/teams/{team}/members/{users.alice.id}", json={"role": "manager"}, headers=admin)
    as_alice = users.alice.headers
    assert client.patch(f"/teams/{team}", json={"name": "NOC Frankfurt"}, headers=as_alice).status_code == 200
    assert client.put(f"/teams/{team}/members/{users.bob.id}", json={}, headers=as_alice).status_code == 200
    assert client.delete(f"/teams/{team}", headers=as_alice).status_code == 403
    assert client.delete(f"/teams/{team}", headers=admin).status_code == 204
    assert client.get("/teams", headers=admin).get_json() == []


def test_team_id_at_launch_is_stored_shown_and_checked(client, users, team, insert_job_logs):
    as_alice, as_bob = users.alice.headers, users.bob.headers
    launched = client.post(f"/jobs/test_flaky/runs?team_id={team}", json={}, headers=as_alice)
    assert launched.status_code == 202
    run = client.get(f"/job-logs/{launched.get_json()['job_log_id']}", headers=as_alice).get_json()
    assert run["team_id"] == team

    refused = client.post(f"/jobs/test_flaky/runs?team_id={team}", json={}, headers=as_bob)
    assert refused.status_code == 403 and refused.get_json()["message"].startswith("team_id:")
    unknown = client.post("/jobs/test_flaky/runs?team_id=99999", json={}, headers=as_alice)
    assert unknown.status_code == 422 and unknown.get_json()["message"].startswith("team_id:")
    body = {"job_type": "test_flaky", "interval_seconds": 3600, "team_id": team}
    assert client.post("/schedules", json=body, headers=as_bob).status_code == 403
    made = client.post("/schedules", json=body, headers=as_alice).get_json()
    assert made["team_id"] == team
    moved = client.patch(f"/schedules/{made['id']}", json={"team_id": 99999}, headers=as_alice)
    assert moved.status_code == 422 and moved.get_json()["message"].startswith("team_id:")
    assert client.get(f"/job-logs?owner={users.bob.id}", headers=as_alice).get_json() == []
    assert not [r for r in client.get("/job-logs", headers=as_bob).get_json()]  # bob is in no team


def test_deleting_a_team_leaves_its_runs_with_their_owners(client, users, team, insert_job_logs):
    [run] = insert_job_logs([{"queued_at": datetime.now(UTC), "owner_id": users.alice.id, "team_id": team}])
    client.put(f"/teams/{team}/members/{users.bob.id}", json={}, headers=users.admin.headers)
    assert client.get(f"/job-logs/{run}", headers=users.bob.headers).status_code == 200
    assert client.delete(f"/teams/{team}", headers=users.admin.headers).status_code == 204
    assert client.get(f"/job-logs/{run}", headers=users.bob.headers).status_code == 404
    assert client.get(f"/job-logs/{run}", headers=users.alice.headers).get_json()["team_id"] is None
