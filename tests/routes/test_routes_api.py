"""``/routes`` through the real API: who may read and edit which route, the target checked for its
channel (the SSRF policy for URLs) and masked in every answer, and the delivery history."""

from __future__ import annotations

from typing import Any

import pytest

pytestmark = pytest.mark.usefixtures("clean_db")

KEY = "R0UTINGKEY0123456789abcdef0123ab"


def body(**changes: Any) -> dict[str, Any]:
    return {"name": "FRA on-call", "channel": "pagerduty", "target": KEY,
            "match": {"sites": ["FRA"], "events": ["failed", "recovered"]}, **changes}  # fmt: skip


@pytest.fixture
def noc(users, make_api_user, make_team):  # type: ignore[no-untyped-def]
    """Team "noc": alice manages it, bob is a member; carol is in no team."""
    carol = make_api_user("carol")
    team = make_team("noc", managers=(users.alice.id,), members=(users.bob.id,))
    return team, carol


def test_a_manager_edits_the_team_routes_members_read_them_others_see_nothing(client, users, noc):
    team, carol = noc
    alice, bob, admin = users.alice, users.bob, users.admin
    created = client.post("/routes", json=body(team_id=team), headers=alice.headers)
    assert created.status_code == 201, created.get_json()
    route = created.get_json()
    assert route["target"] == "…23ab" and KEY not in created.get_data(as_text=True)
    events = ["failed", "recovered"]
    assert route["match"] == {"job_types": [], "sites": ["FRA"], "tags": [], "events": events}
    url = f"/routes/{route['id']}"

    for reader in (alice, bob, admin):
        assert client.get(url, headers=reader.headers).get_json()["target"] == "…23ab"
        assert [r["id"] for r in client.get("/routes", headers=reader.headers).get_json()] == [route["id"]]
        assert client.get(f"{url}/deliveries", headers=reader.headers).get_json() == []
    assert client.get("/routes", headers=carol.headers).get_json() == []
    for answer in (
        client.get(url, headers=carol.headers),
        client.get(f"{url}/deliveries", headers=carol.headers),
        client.patch(url, json={"enabled": False}, headers=carol.headers),
        client.delete(url, headers=carol.headers),
    ):
        assert answer.status_code == 404

    assert client.patch(url, json={"enabled": False}, headers=bob.headers).status_code == 403
    assert client.delete(url, headers=bob.headers).status_code == 403
    assert client.post("/routes", json=body(team_id=team), headers=bob.headers).status_code == 403
    assert client.post("/routes", json=body(team_id=team), headers=carol.headers).status_code == 403
    # Without a team a route is the admins': a manager cannot make one, nor move one there.
    assert client.post("/routes", json=body(), headers=alice.headers).status_code == 403
    assert client.patch(url, json={"team_id": None}, headers=alice.headers).status_code == 403

    changed = client.patch(url, json={"name": "FRA pager", "enabled": False}, headers=alice.headers)
    assert changed.status_code == 200 and changed.get_json()["name"] == "FRA pager"
    admins = client.post("/routes", json=body(name="all sites", match={}), headers=admin.headers)
    assert admins.status_code == 201 and admins.get_json()["team_id"] is None
    assert client.get(f"/routes/{admins.get_json()['id']}", headers=alice.headers).status_code == 404
    assert len(client.get("/routes", headers=admin.headers).get_json()) == 2
    assert client.delete(url, headers=alice.headers).status_code == 204
    assert client.get(url, headers=alice.headers).status_code == 404


def test_an_unknown_team_is_422_naming_team_id(client, users):
    answer = client.post("/routes", json=body(team_id=999), headers=users.admin.headers)
    assert answer.status_code == 422 and "team_id" in answer.get_json()["errors"]["json"]


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"channel": "email"}, "channel"),
        ({"channel": "smoke-signals"}, "channel"),
        ({"target": "short"}, "target"),
        ({"target": "key with spaces 0123456789"}, "target"),
        ({"match": {"events": ["config_changed"]}}, "match"),  # PagerDuty carries incidents only
        ({"match": {"events": ["exploded"]}}, "match"),
        ({"channel": "slack", "target": "ftp://hooks.example.com/x"}, "target"),
        ({"name": ""}, "name"),
    ],
)
def test_a_bad_route_is_422_naming_the_field_and_nothing_is_written(client, users, changes, field):
    answer = client.post("/routes", json=body(**changes), headers=users.admin.headers)
    assert answer.status_code == 422, answer.get_json()
    assert field in answer.get_json()["errors"]["json"], answer.get_json()
    assert client.get("/routes", headers=users.admin.headers).get_json() == []


def test_a_new_channel_needs_its_own_target(client, users):
    route = client.post("/routes", json=body(), headers=users.admin.headers).get_json()
    answer = client.patch(f"/routes/{route['id']}", json={"channel": "opsgenie"}, headers=users.admin.headers)
    assert answer.status_code == 422 and "target" in answer.get_json()["errors"]["json"]


@pytest.fixture(scope="module")
def strict_client(settings):  # type: ignore[no-untyped-def]
    """The API as deployed: no private webhook addresses (the suite allows them for its servers)."""
    from api import create_app

    return create_app(settings.model_copy(update={"allow_private_webhooks": False})).test_client()


@pytest.mark.parametrize("channel", ["slack", "webhook", "teams"])
@pytest.mark.parametrize(
    "url", ["http://127.0.0.1:8080/hook", "http://10.1.2.3/hook", "http://[::1]/x", "http://169.254.169.254/"]
)
def test_a_private_target_is_refused_unless_the_operator_allows_it(
    strict_client, client, users, channel, url
):
    route = {"name": "chat", "channel": channel, "target": url}
    refused = strict_client.post("/routes", json=route, headers=users.admin.headers)
    assert refused.status_code == 422
    assert "only public addresses" in refused.get_json()["errors"]["json"]["target"][0]
    # The suite's settings allow private addresses (NETRAVEN_ALLOW_PRIVATE_WEBHOOKS) for its servers.
    allowed = client.post("/routes", json=route, headers=users.admin.headers)
    assert allowed.status_code == 201
    assert allowed.get_json()["target"].endswith("/…") and "hook" not in allowed.get_json()["target"]
