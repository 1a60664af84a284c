"""``POST /jobs/{job_type}/batches`` and ``GET /batches``: launch, visibility and the 422s (no worker
needed; a session worker on the same broker may run the children, and the checks allow for it)."""

from __future__ import annotations

import pytest


def launch(client, user, targets, arguments=None, job_type="reachability_check"):  # type: ignore[no-untyped-def]
    body = {"targets": targets, "arguments": arguments if arguments is not None else {"port": 9}}
    return client.post(f"/jobs/{job_type}/batches", json=body, headers=user.headers)


@pytest.fixture
def fleet(add_devices):  # type: ignore[no-untyped-def]
    return add_devices([(f"r{i:02d}", f"127.0.0.{i}") for i in range(1, 6)])


def test_a_batch_writes_one_queued_child_per_device_and_reads_as_one_row(
    client, users, fleet, settings, redis_client
):
    response = launch(client, users.alice, {"site": "FRA", "tags": ["core"]})
    assert response.status_code == 202, response.get_json()
    body = response.get_json()
    assert body["total"] == 5 and body["status"] == "running"
    assert response.headers["Location"] == f"/batches/{body['batch_id']}"

    batch = client.get(response.headers["Location"], headers=users.alice.headers).get_json()
    # Five children, each counted once. A session worker on this broker may already have started
    # (or finished) some; the summary then says so, and its progress follows its counts.
    counts = batch["counts"]
    assert set(counts) == {"queued", "running", "retrying", "completed", "failed", "canceled"}
    assert sum(counts.values()) == 5 and all(n >= 0 for n in counts.values()), counts
    over = counts["completed"] + counts["failed"] + counts["canceled"]
    assert batch["progress"] == round(over / 5, 4)
    assert batch["owner"] == users.alice.id and batch["job_type"] == "reachability_check"
    assert len(batch["failed_devices"]) == counts["failed"] and set(batch["failed_devices"]) <= set(fleet)
    if over < 5:
        assert batch["finished_at"] is None and batch["status"] == "running"

    children = client.get(f"/job-logs?batch_id={body['batch_id']}", headers=users.alice.headers).get_json()
    assert sorted(child["device"] for child in children) == fleet
    # the job's device argument receives each device's address
    assert sorted(child["args"]["host"] for child in children) == [f"127.0.0.{i}" for i in range(1, 6)]
    assert {child["batch_id"] for child in children} == {body["batch_id"]}
    # every child is in our record of published messages (one ZADD for the batch, not one per message)
    from netraven_tasks.tracking.published import PublishedMessages

    # (a session worker may have started some: those left the record, and their rows left queued)
    task_ids = {child["task_id"] for child in children}
    missing = task_ids - PublishedMessages(redis_client).held(task_ids)
    now = client.get(f"/job-logs?batch_id={body['batch_id']}", headers=users.alice.headers).get_json()
    assert all(child["status"] != "queued" for child in now if child["task_id"] in missing)

    listed = client.get("/batches", headers=users.alice.headers).get_json()
    assert [item["id"] for item in listed] == [body["batch_id"]]


def test_another_users_batch_is_not_found_and_not_listed(client, users, fleet):
    batch_id = launch(client, users.alice, {"devices": ["r01"]}).get_json()["batch_id"]
    assert client.get(f"/batches/{batch_id}", headers=users.bob.headers).status_code == 404
    assert client.post(f"/batches/{batch_id}/cancel", headers=users.bob.headers).status_code == 404
    assert client.get("/batches", headers=users.bob.headers).get_json() == []
    assert client.get(f"/batches/{batch_id}", headers=users.admin.headers).status_code == 200


@pytest.mark.parametrize(
    ("targets", "arguments", "field"),
    [
        ({"site": "NOWHERE"}, {}, "targets"),  # matches nothing
        ({"devices": ["r01", "ghost"]}, {}, "targets"),  # an unknown device
        ({"site": "FRA", "devices": ["r01"]}, {}, "targets"),  # names and filters
        ({}, {}, "targets"),  # no field at all
        ({"sites": "FRA"}, {}, "targets"),  # an unknown key
        ({"tags": "core"}, {}, "targets"),  # not a list
        ({"devices": ["../r01"]}, {}, "targets"),  # not a device name
        ("FRA", {}, "targets"),  # not a selector
        ({"site": "FRA"}, {"port": "twenty-two"}, "arguments"),
        ({"site": "FRA"}, {"port": 99999}, "arguments"),
        ({"site": "FRA"}, {"host": "10.0.0.1"}, "arguments"),  # set per device
    ],
)
def test_a_bad_batch_is_a_422_naming_the_field(client, users, fleet, targets, arguments, field):
    response = launch(client, users.alice, targets, arguments)
    assert response.status_code == 422, response.get_json()
    errors = response.get_json()["errors"]
    assert field in errors.get("json", errors), response.get_json()


def test_an_unknown_job_type_is_a_404_and_nothing_is_written(client, users, fleet):
    assert launch(client, users.alice, {"site": "FRA"}, job_type="nope").status_code == 404
    assert client.get("/batches", headers=users.admin.headers).get_json() == []


def test_a_non_admin_batch_over_the_size_quota_is_a_429(app, client, users, fleet, settings, monkeypatch):
    from api.context import SETTINGS_KEY

    monkeypatch.setitem(app.extensions, SETTINGS_KEY, settings.model_copy(update={"max_batch_devices": 4}))
    response = launch(client, users.alice, {"site": "FRA"})
    assert response.status_code == 429 and "NETRAVEN_MAX_BATCH_DEVICES" in response.get_json()["message"]
    assert launch(client, users.admin, {"site": "FRA"}).status_code == 202


@pytest.mark.parametrize(
    ("targets", "field", "message"),
    [
        ({}, "_schema", "give devices, or any of site, platform, tags"),
        ({"site": "FRA", "devices": ["r01"]}, "devices", "give devices or filters, not both (site)"),
        ({"sites": "FRA"}, "sites", "Unknown field."),
        ({"platform": "ios"}, "platform", "must be one of"),
    ],
)
def test_a_bad_selector_is_refused_by_the_body_schema_before_anything_is_written(
    client, users, fleet, targets, field, message
):
    """The selector is checked with the body (``TargetsSchema``, the one selector check), so its 422
    names the field inside ``targets`` and nothing is launched."""
    response = launch(client, users.alice, targets)
    assert response.status_code == 422, response.get_json()
    problems = response.get_json()["errors"]["json"]["targets"][field]
    assert any(message in problem for problem in problems), problems
    assert response.get_json()["message"].startswith(f"targets.{field}: ")
    assert client.get("/batches", headers=users.admin.headers).get_json() == []


def test_the_spec_states_what_a_selector_may_hold(client):
    """``/openapi.json`` says what the API accepts as ``targets``, for batches and schedules alike:
    its fields, no other key, at least one, and names or filters but never both."""
    spec = client.get("/openapi.json").get_json()
    schemas = spec["components"]["schemas"]
    reference = {"$ref": "#/components/schemas/Targets"}
    assert schemas["BatchLaunch"]["properties"]["targets"]["allOf"] == [reference]
    assert reference in schemas["ScheduleBody"]["properties"]["targets"]["anyOf"]
    targets = schemas["Targets"]
    assert set(targets["properties"]) == {"devices", "site", "platform", "tags"}
    assert targets["additionalProperties"] is False and targets["minProperties"] == 1
    assert targets["properties"]["devices"]["items"]["pattern"]  # a host name, as the inventory's
    assert targets["properties"]["tags"]["type"] == "array"
    names, filters = targets["oneOf"]
    assert names == {"required": ["devices"]}
    assert filters == {"anyOf": [{"required": ["site"]}, {"required": ["platform"]}, {"required": ["tags"]}]}
