"""``/devices``: the inventory, read by everyone signed in, changed by admins; the backups under the
same prefix keep working for any host, in the inventory or not."""

from __future__ import annotations

import json

import pytest
from flask import Flask

CORE = {"name": "core-rtr-01", "address": "10.0.0.1", "platform": "cisco_ios", "site": "FRA",
        "tags": ["pop:fra", "core"]}  # fmt: skip


def add(client, user, body):  # type: ignore[no-untyped-def]
    return client.post("/devices", json=body, headers=user.headers)


@pytest.fixture
def fleet(client, users):  # type: ignore[no-untyped-def]
    bodies = [
        CORE,
        {"name": "core-rtr-02", "platform": "cisco_ios", "site": "FRA", "tags": ["core"]},
        {"name": "edge-sw-01", "platform": "arista_eos", "site": "AMS", "tags": ["edge"]},
        {"name": "old-rtr", "platform": "cisco_ios", "site": "FRA", "tags": ["core"], "enabled": False},
    ]
    for body in bodies:
        assert add(client, users.admin, body).status_code == 201
    return bodies


def names(response) -> list[str]:  # type: ignore[no-untyped-def]
    assert response.status_code == 200, response.get_json()
    return [device["name"] for device in response.get_json()]


def test_an_admin_adds_a_device_and_everyone_signed_in_reads_it(client, users):
    response = add(client, users.admin, CORE)
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert response.headers["Location"] == "/devices/core-rtr-01"
    assert {key: body[key] for key in CORE} == {**CORE, "tags": ["core", "pop:fra"]}
    assert body["enabled"] is True and body["created_at"] == body["updated_at"]
    read = client.get("/devices/core-rtr-01", headers=users.alice.headers)
    assert read.status_code == 200 and read.get_json() == body
    minimal = add(client, users.admin, {"name": "lab-sw"}).get_json()
    assert (minimal["address"], minimal["platform"], minimal["site"], minimal["tags"]) == (
        "lab-sw",
        "generic",
        None,
        [],
    )


def test_anonymous_is_401_users_may_not_write_403_unknown_is_404_duplicate_409(client, users):
    assert client.get("/devices").status_code == 401
    assert client.get("/devices/core-rtr-01").status_code == 401
    assert add(client, users.admin, CORE).status_code == 201
    for response in (
        add(client, users.alice, {"name": "r9"}),
        add(client, users.alice, {"name": "../bad"}),  # refused before the body is even read
        client.patch("/devices/core-rtr-01", json={"site": "AMS"}, headers=users.alice.headers),
        client.delete("/devices/core-rtr-01", headers=users.alice.headers),
    ):
        assert response.status_code == 403, response.get_json()
        assert response.get_json()["message"] == "only admins may change the device inventory"
    assert client.get("/devices/core-rtr-01", headers=users.alice.headers).get_json()["site"] == "FRA"
    assert client.get("/devices/nope", headers=users.alice.headers).status_code == 404
    assert client.patch("/devices/nope", json={"site": "AMS"}, headers=users.admin.headers).status_code == 404
    assert client.delete("/devices/nope", headers=users.admin.headers).status_code == 404
    duplicate = add(client, users.admin, {**CORE, "address": "10.9.9.9"})
    assert duplicate.status_code == 409 and "core-rtr-01 already exists" in duplicate.get_json()["message"]
    assert client.get("/devices/core-rtr-01", headers=users.admin.headers).get_json()["address"] == "10.0.0.1"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "core/rtr"}, "name"),
        ({"name": "r1", "address": "ssh://10.0.0.1"}, "address"),
        ({"name": "r1", "address": "10.0.0.1/32"}, "address"),
        ({"name": "r1", "address": "r1 r2"}, "address"),
        ({"name": "r1", "platform": "cisco"}, "platform"),
        ({"name": "r1", "tags": "core"}, "tags"),
        ({"name": "r1", "tags": ["core", "a b"]}, "tags"),
        ({"name": "r1", "tags": [f"t{i}" for i in range(33)]}, "tags"),
        ({"name": "r1", "site": "x" * 65}, "site"),
        ({"name": "r1", "enabled": "false"}, "enabled"),
        ({"name": "r1", "colour": "red"}, "colour"),
        ({"address": "10.0.0.1"}, "name"),
        ({"name": "r1\x00"}, "name"),
    ],
)
def test_bad_device_is_422_naming_the_field_and_nothing_is_stored(client, users, body, field):
    response = add(client, users.admin, body)
    assert response.status_code == 422, response.get_json()
    assert field in response.get_json()["errors"]["json"] and field in response.get_json()["message"]
    assert names(client.get("/devices", headers=users.admin.headers)) == []


def test_patch_changes_only_the_given_fields_and_never_the_name(client, users):
    created = add(client, users.admin, CORE).get_json()
    patched = client.patch(
        "/devices/core-rtr-01", json={"tags": ["edge"], "enabled": False}, headers=users.admin.headers
    )
    assert patched.status_code == 200, patched.get_json()
    body = patched.get_json()
    assert body["tags"] == ["edge"] and body["enabled"] is False and body["address"] == "10.0.0.1"
    assert body["updated_at"] > created["updated_at"]
    renamed = client.patch("/devices/core-rtr-01", json={"name": "x"}, headers=users.admin.headers)
    assert renamed.status_code == 422 and "name" in renamed.get_json()["errors"]["json"]
    bad = client.patch("/devices/core-rtr-01", json={"address": "a/b"}, headers=users.admin.headers)
    assert bad.status_code == 422 and "address" in bad.get_json()["message"]
    assert client.get("/devices/core-rtr-01", headers=users.admin.headers).get_json()["tags"] == ["edge"]


def test_delete_removes_the_device_and_its_tags(client, users, db_session):
    import sqlalchemy as sa

    add(client, users.admin, CORE)
    assert client.delete("/devices/core-rtr-01", headers=users.admin.headers).status_code == 204
    assert client.get("/devices/core-rtr-01", headers=users.admin.headers).status_code == 404
    assert db_session.scalar(sa.text("SELECT count(*) FROM device_tags")) == 0
    assert add(client, users.admin, CORE).status_code == 201  # the name is free again


def test_list_is_by_name_filtered_and_paginated(client, users, fleet):
    get = lambda query: client.get(f"/devices{query}", headers=users.alice.headers)  # noqa: E731
    assert names(get("")) == ["core-rtr-01", "core-rtr-02", "edge-sw-01", "old-rtr"]
    assert names(get("?site=FRA&tag=core")) == ["core-rtr-01", "core-rtr-02", "old-rtr"]
    assert names(get("?tag=core&tag=pop:fra")) == ["core-rtr-01"]  # every tag
    assert names(get("?platform=arista_eos")) == ["edge-sw-01"]
    assert names(get("?enabled=false")) == ["old-rtr"]
    assert names(get("?enabled=true&site=FRA")) == ["core-rtr-01", "core-rtr-02"]
    assert names(get("?q=core-")) == ["core-rtr-01", "core-rtr-02"]
    assert names(get("?q=core_")) == []  # _ is a character here, not LIKE's wildcard
    assert names(get("?q=CORE-")) == []  # case-sensitive, as names are
    page = get("?page=2&page_size=3")
    assert names(page) == ["old-rtr"]
    assert json.loads(page.headers["X-Pagination"])["total"] == 4
    for query, field in (("?platform=ios", "platform"), ("?enabled=yes", "enabled"), ("?q=a/b", "q"),
                         ("?tag=a%20b", "tag"), ("?sites=FRA", "sites")):  # fmt: skip
        response = get(query)
        assert response.status_code == 422 and field in response.get_json()["message"], query


def test_backups_of_any_host_keep_working_beside_the_inventory(client, users, fleet):
    for host in ("core-rtr-01", "not-in-the-inventory"):
        response = client.get(f"/devices/{host}/backups", headers=users.alice.headers)
        assert response.status_code == 200, response.get_json()
        assert response.get_json() == {"device": host, "history": "owner", "versions": []}
    assert (
        client.get(f"/devices/core-rtr-01/backups/{'0' * 64}", headers=users.admin.headers).status_code == 404
    )


def test_openapi_documents_the_inventory_beside_the_backups(client):
    paths = client.get("/openapi.json").get_json()["paths"]
    assert set(paths["/devices"]) >= {"get", "post"}
    assert set(paths["/devices/{name}"]) >= {"get", "patch", "delete"}
    assert "/devices/{host}/backups" in paths and "/devices/{host}/backups/{sha256}" in paths


def test_a_selector_that_selects_nothing_is_a_422_json_error_naming_targets(settings):
    """What batches will raise: mapped once, on the app, to 422 naming ``targets``."""
    from api import create_app
    from netraven_tasks.devices.selection import NoDevicesMatched, UnknownDevices

    app: Flask = create_app(settings)
    errors = {"nothing": NoDevicesMatched("no enabled device matches the targets (site XYZ)"),
              "unknown": UnknownDevices(["r7"])}  # fmt: skip

    def raising(kind: str) -> None:
        raise errors[kind]

    app.add_url_rule("/selection-test/<kind>", view_func=raising)
    client = app.test_client()
    nothing = client.get("/selection-test/nothing")
    assert nothing.status_code == 422 and nothing.is_json
    assert nothing.get_json() == {
        "code": 422, "status": "Unprocessable Entity",
        "message": "targets: no enabled device matches the targets (site XYZ)",
        "errors": {"targets": ["no enabled device matches the targets (site XYZ)"]},
    }  # fmt: skip
    unknown = client.get("/selection-test/unknown").get_json()
    assert unknown["errors"] == {"targets": ["no device named r7 in the inventory"]}
