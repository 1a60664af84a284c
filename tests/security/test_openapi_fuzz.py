"""Fuzz every operation of /openapi.json with schemathesis, as a user and as an admin.

The Flask app is called through WSGI (no server). Every response must be a non-5xx that
matches the spec (status code, content type, headers, body schema), except the documented 503 of
a launch, re-run or cancel: the broker is a real one that is down (``dead_broker``), so no fuzzed
job reaches the session worker and the unavailable path of every such view is fuzzed too. Bodies too large
or too deeply nested, which schemathesis does not generate, are sent to every operation that
takes one.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings
from schemathesis.checks import not_a_server_error, positive_data_acceptance
from schemathesis.core.parameters import ParameterLocation

from api import create_app
from api.json_body import NUMBER_RANGE
from api.schemas import OUT_OF_RANGE
from netraven_tasks.devices.schemas import TargetsSchema
from netraven_tasks.maintenance.schemas import ENDS_BEFORE_START, NOTHING_MATCHED, OUT_OF_SPAN

WINDOW_RULES = (ENDS_BEFORE_START, NOTHING_MATCHED, OUT_OF_SPAN)  # maintenance windows

MAX_EXAMPLES = 15
CROSS_FIELD_RULES = ("must be later than since", "may span at most", OUT_OF_RANGE, *WINDOW_RULES)


# Built at import (tests/conftest.py has set the environment): schemathesis reads the spec at
# collection. Only requests need the session database, which the fixtures below provide.
APP = create_app()
# The event stream is a body without end (tests/api/test_job_log_stream.py covers it).
schema = schemathesis.openapi.from_wsgi("/openapi.json", APP).exclude(path="/job-logs/stream")


@pytest.fixture(autouse=True)
def broker_down(dead_broker):  # type: ignore[no-untyped-def]
    """Launches, re-runs and cancels meet a real broker that is down: a 503, never a 500."""
    return dead_broker


@pytest.fixture
def fuzz_users(users, insert_job_logs):  # type: ignore[no-untyped-def]
    """alice, bob and an admin, and a few job logs of each kind so reads have something to return."""
    now = datetime.now(UTC)
    insert_job_logs(
        [
            {"queued_at": now - timedelta(minutes=5), "owner_id": users.alice.id, "duration_seconds": 2.0},
            {"queued_at": now - timedelta(minutes=3), "owner_id": users.bob.id, "status": "failed",
             "device": "sw-1", "duration_seconds": 1.0, "error_type": "ValueError", "error_message": "bad"},
            {"queued_at": now - timedelta(minutes=1), "owner_id": users.alice.id, "status": "running"},
        ]
    )  # fmt: skip
    return users


def call_and_validate(case, headers: dict[str, str]) -> None:  # type: ignore[no-untyped-def]
    """Every schemathesis check, except that a schema-valid request may get a 422 for a documented rule.

    OpenAPI 3.0 cannot say "until after since", "at most 400 days", "a date within years 3 to
    9997", "an integer within 64 bits", "arguments as the job type's
    own schema wants", "a device the inventory holds", "a host name that is no path" or "a webhook
    URL that resolves to a public address"; those answer 422.
    Any other 422 for schema-valid input is still a failure.
    """
    header = case.meta.components.get(ParameterLocation.HEADER)
    if header is not None and header.mode.is_negative:
        # The case's own invalid headers (e.g. no Authorization): ours would make the request valid,
        # and its 200 would read as "invalid data accepted".
        headers = {}
    response = case.call_and_validate(
        headers=headers, excluded_checks=[positive_data_acceptance, not_a_server_error]
    )
    if response.status_code >= 500:
        # Only the broker being down (documented 503 with Retry-After); a 500 is a failure.
        assert response.status_code == 503 and "retry-after" in {k.lower() for k in response.headers}, (
            response.text
        )
        assert "unavailable" in response.json()["message"] or "unreachable" in response.json()["message"]
        return
    if response.status_code != 422 or case.meta.generation.mode.is_negative:
        return
    body = response.json()
    if body.get("errors") == {"json": [NUMBER_RANGE]}:
        return  # an integer beyond 64 bits anywhere in a body (api/json_body.py), valid per the spec
    if case.operation.path == "/jobs/{job_type}/runs":
        return  # the job type's own argument schema
    if case.operation.path == "/jobs/{job_type}/batches":
        assert beyond_the_batch_spec(body["errors"]), body
        return
    if case.operation.path.startswith("/devices/{host}"):
        assert set(body["errors"]) == {"host"}, body  # path syntax in a host name: its own 422
        return
    if case.operation.path in ("/devices", "/devices/{name}"):
        assert set(body["errors"]["json"]) == {"address"}, body  # a host name or an IP literal
        return
    if case.operation.path in ("/schedules", "/schedules/{schedule_id}"):
        return  # schedules: validated like a launch (the job type's own schema), plus cron and zone
    if case.operation.path == "/schedules/preview":
        # exactly one of interval_seconds or cron, a cron that fires, a known zone: as a schedule's
        assert set(body["errors"]["query"]) <= {"interval_seconds", "cron", "timezone"}, body
        return
    if case.operation.path in ("/routes", "/routes/{route_id}"):
        # a target of its channel's kind (a public URL, a key), a team that exists, the channel's events
        assert set(body["errors"]["json"]) <= {"target", "team_id", "match"}, body
        return
    if case.operation.path == "/users/{user_id}/notification-preferences":
        # sms_number must be a valid number; quiet_hours a known zone and start != end (schedules)
        assert set(body["errors"]["json"]) <= {
            "slack_webhook_url",
            "webhook_url",
            "sms_number",
            "quiet_hours",
        }, body
        return
    if case.operation.path == "/users/me/notifications/test":
        # a known channel the caller has not set up (no URL, no number) or the server does not send
        assert set(body["errors"]["json"]) == {"channel"} and "not" in body["message"], body
        return
    assert any(rule in body["message"] for rule in CROSS_FIELD_RULES), body


def beyond_the_batch_spec(errors: dict[str, Any]) -> bool:
    """Whether a batch's 422 is one the spec cannot state. It states the body's shape, the selector's
    included (``Targets``: its fields, no other key, names or filters); not the job type's own
    arguments (nor whether it takes a device at all), nor what the inventory holds: a selector that
    matches nothing or names an unknown device, a device whose address the job's field refuses, a
    ``team_id`` of no team."""
    if set(errors) == {"targets"}:
        return True  # the inventory's answer (SelectionError)
    found = errors.get("json", {})
    targets = found.get("targets", {})  # by device name, never by a field of the selector
    per_device = isinstance(targets, dict) and not {*TargetsSchema().fields, "_schema"} & targets.keys()
    return set(found) <= {"arguments", "job_type", "targets", "team_id"} and per_device


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_as_a_user_conforms_and_never_fails_with_5xx(case, fuzz_users):
    call_and_validate(case, fuzz_users.alice.headers)


@schema.parametrize()
@settings(max_examples=MAX_EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck))
def test_every_operation_as_an_admin_conforms_and_never_fails_with_5xx(case, fuzz_users):
    call_and_validate(case, fuzz_users.admin.headers)


def operations_with_a_body(client):  # type: ignore[no-untyped-def]
    spec = client.get("/openapi.json").get_json()
    for path, methods in spec["paths"].items():
        for method, operation in methods.items():
            if isinstance(operation, dict) and "requestBody" in operation:
                yield method, path.replace("{job_type}", "test_flaky").replace("{user_id}", "me")


@pytest.mark.parametrize("who", ["anonymous", "user"])
def test_every_operation_refuses_oversized_and_deeply_nested_bodies_with_json(
    client, fuzz_users, settings, who
):
    """Bodies schemathesis does not make: above NETRAVEN_MAX_BODY_BYTES (413), nested too deep (400)."""
    headers = fuzz_users.alice.headers if who == "user" else {}
    deep = b'{"a": ' + b"[" * 5000 + b"]" * 5000 + b"}"
    large = b'{"a": "' + b"x" * (settings.max_body_bytes + 1) + b'"}'
    seen = 0
    for method, path in operations_with_a_body(client):
        seen += 1
        for body, code in ((large, 413), (deep, 400)):
            response = getattr(client, method)(
                path, data=body, content_type="application/json", headers=headers
            )
            assert response.status_code == code, (method, path, response.get_data(as_text=True)[:200])
            assert response.is_json and response.get_json()["code"] == code
    assert seen >= 3  # the token, launching, preferences at least
