"""Inputs that used to answer 500: each is now a 4xx naming the field, on PostgreSQL and SQLite.

A cron that never fires, NUL and lone surrogates in any stored string, numbers no column can hold
in any JSON body, and the dashboard's filters (checked by the API's own schema).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from netraven_tasks.input_schema import unstorable
from tests.conftest import TEST_ENV
from tests.schedules.test_commands import cli

NEVER_FIRES = ["0 0 31 2 *", "0 0 31 4 *"]
SURROGATE = "\ud800"
SCHEDULE = {"job_type": "test_flaky", "arguments": {"host": "sw-1"}, "interval_seconds": 60}


def raw_json(value: Any) -> str:
    """JSON text as a client may send it: a lone surrogate stays an escape (``"\\ud800"``)."""
    return json.dumps(value)  # ensure_ascii: the surrogate is written as \ud800


def post(client, path: str, body: Any, headers: dict[str, str], method: str = "post"):  # type: ignore[no-untyped-def]
    data = body if isinstance(body, str) else raw_json(body)
    return getattr(client, method)(path, data=data, headers={**headers, "Content-Type": "application/json"})


@pytest.fixture(scope="module")
def sqlite_app(tmp_path_factory) -> Iterator[Any]:  # type: ignore[no-untyped-def]
    """The API on the embedded default's database (SQLite), migrated, with one user."""
    from api import create_app
    from netraven_tasks.auth import issue_token
    from netraven_tasks.db import session_factory
    from netraven_tasks.migrate import upgrade
    from netraven_tasks.settings import Settings
    from netraven_tasks.users import create_user

    folder = tmp_path_factory.mktemp("sqlite-api")
    settings = Settings.from_env(
        {
            "NETRAVEN_VAR_DIR": str(folder),
            "NETRAVEN_DATABASE_URL": f"sqlite:///{folder / 'netraven.db'}",
            "NETRAVEN_SECRET_KEY": TEST_ENV["NETRAVEN_SECRET_KEY"],
            "NETRAVEN_JOB_MODULES": TEST_ENV["NETRAVEN_JOB_MODULES"],
        }
    )
    upgrade(settings.database_url)
    with session_factory(settings).begin() as session:
        user = create_user(session, "sam", "sam@example.test", "sam-password")
        token = issue_token(user, settings)
    app = create_app(settings)
    yield app, {"Authorization": f"Bearer {token}"}


@pytest.fixture(params=["postgresql", "sqlite"])
def api(request, client, users, sqlite_app):  # type: ignore[no-untyped-def]
    """(test client, headers) of a signed-in user, on each database."""
    if request.param == "postgresql":
        return client, users.alice.headers
    app, headers = sqlite_app
    return app.test_client(), headers


def field_errors(response) -> dict[str, Any]:  # type: ignore[no-untyped-def]
    body = response.get_json()
    return body["errors"]["json"] if "json" in body["errors"] else body["errors"]


# A cron that never fires --------------------------------------------------------------------------


@pytest.mark.parametrize("cron", NEVER_FIRES)
def test_a_cron_that_never_fires_is_refused_naming_cron(client, users, cron):
    body = {**SCHEDULE, "interval_seconds": None, "cron": cron}
    created = client.post("/schedules", json=body, headers=users.alice.headers)
    assert created.status_code == 422, created.get_json()
    assert "never fires" in field_errors(created)["cron"][0]

    schedule = client.post("/schedules", json=SCHEDULE, headers=users.alice.headers).get_json()
    changed = client.patch(f"/schedules/{schedule['id']}", json={"cron": cron}, headers=users.alice.headers)
    assert changed.status_code == 422, changed.get_json()
    assert "never fires" in field_errors(changed)["cron"][0]


def test_the_cli_refuses_a_cron_that_never_fires_without_a_traceback(users):
    added = cli("add", "test_flaky", "--owner", "alice", "--cron", NEVER_FIRES[0], "--arg", "host=sw-1")
    assert added.returncode == 2, added.stderr
    assert "cron" in added.stderr and "never fires" in added.stderr
    assert "Traceback" not in added.stderr


# NUL and lone surrogates in stored strings, on both databases -------------------------------------


@pytest.mark.parametrize("bad", ["\x00", SURROGATE], ids=["nul", "surrogate"])
def test_a_schedule_description_must_be_storable_text(api, bad):
    client, headers = api
    response = post(client, "/schedules", {**SCHEDULE, "description": f"nightly{bad}"}, headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert list(field_errors(response)) == ["description"]


@pytest.mark.parametrize("bad", ["\x00", SURROGATE], ids=["nul", "surrogate"])
def test_job_arguments_keys_and_values_must_be_storable_text(api, bad):
    client, headers = api
    response = post(client, "/jobs/test_flaky/runs", {"host": f"sw{bad}"}, headers)
    assert response.status_code == 422 and list(field_errors(response)) == ["host"]
    nested = post(client, "/schedules", {**SCHEDULE, "arguments": {f"k{bad}": 1}}, headers)
    assert nested.status_code == 422 and list(field_errors(nested)) == ["arguments"]


@pytest.mark.parametrize("bad", ["\x00", SURROGATE], ids=["nul", "surrogate"])
def test_critical_job_types_must_be_storable_text(api, bad):
    client, headers = api
    path = "/users/me/notification-preferences"
    response = post(client, path, {"critical_job_types": [f"backup{bad}"]}, headers, method="patch")
    assert response.status_code == 422, response.get_data(as_text=True)
    reason = unstorable(bad)
    assert reason is not None and field_errors(response) == {"critical_job_types": {"0": [reason]}}
    assert client.get(path, headers=headers).get_json()["critical_job_types"] == []


def test_every_input_schema_checks_every_string():
    """One check for all: the API's input schemas all derive from InputSchema."""
    from marshmallow import Schema

    from api import create_app
    from netraven_tasks.input_schema import InputSchema

    app = create_app()
    loaded = set()
    for rule in app.url_map.iter_rules():
        view = app.view_functions[rule.endpoint]
        for method in getattr(getattr(view, "view_class", None), "methods", None) or ():
            function = getattr(view.view_class, method.lower())
            for argument in getattr(function, "_apidoc", {}).get("arguments", {}).get("parameters", []):
                schema = argument["schema"]
                loaded.add(schema if isinstance(schema, type) else type(schema))
    assert loaded, "the views' argument schemas are found"
    plain = sorted(s.__name__ for s in loaded if issubclass(s, Schema) and not issubclass(s, InputSchema))
    assert plain == []


# Numbers no column can hold -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "number",
    ["1" * 5001, "-" + "9" * 5001, "9223372036854775808", "1e999", "NaN", "-Infinity"],
    ids=["5001-digits", "negative-5001-digits", "int64-plus-one", "infinity", "nan", "minus-infinity"],
)
def test_a_number_beyond_any_column_is_a_422_naming_the_body(client, users, number):
    headers = users.alice.headers
    for method, path, body in [
        ("post", "/jobs/test_flaky/runs", f'{{"host": "sw-1", "succeed_on_attempt": {number}}}'),
        ("post", "/schedules", f'{{"job_type": "test_flaky", "interval_seconds": {number}}}'),
        ("patch", "/users/me/notification-preferences", f'{{"critical_job_types": [{number}]}}'),
        ("post", "/auth/token", f'{{"username": {number}, "password": "x"}}'),
    ]:
        response = post(client, path, body, headers, method=method)
        assert response.status_code == 422, (path, response.get_data(as_text=True)[:300])
        assert response.get_json()["errors"] == {"json": [response.get_json()["message"]]}
        assert "numbers must be finite" in response.get_json()["message"]


def test_int64_bounds_themselves_are_accepted_by_the_parser(client, users):
    """The edge is a 64-bit integer, not less: the schemas' own ranges decide after it."""
    response = post(client, "/schedules", f'{{"job_type": "test_flaky", "interval_seconds": {2**63 - 1}}}',
                    users.alice.headers)  # fmt: skip
    assert response.status_code == 422 and list(field_errors(response)) == ["interval_seconds"]


def test_every_api_blueprint_parses_with_the_guarded_json_parser():
    from flask_smorest import Blueprint

    from api import create_app
    from api.json_body import JsonBodyParser

    app = create_app()
    smorest = [bp for bp in app.blueprints.values() if isinstance(bp, Blueprint)]
    assert smorest, "the API's blueprints are found"
    assert [bp.name for bp in smorest if not isinstance(bp.ARGUMENTS_PARSER, JsonBodyParser)] == []


# The dashboard's filters ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("device=%00", "device"),
        ("job_type=a%00b", "job_type"),
        ("device=" + "x" * 300, "device"),
        ("status=exploded", "status"),
        ("page=0", "page"),
        ("order=sideways", "order"),
    ],
)
def test_dashboard_filters_are_checked_by_the_api_schema(client, users, query, field):
    from tests.api.test_dashboard_session import _sign_in

    _sign_in(client, users.alice)
    response = client.get(f"/ui/job-logs?{query}")
    assert response.status_code == 400
    assert f"{field}: " in response.get_data(as_text=True)


def test_dashboard_statistics_period_is_checked_by_the_api_schema(client, users):
    from tests.api.test_dashboard_session import _sign_in

    _sign_in(client, users.alice)
    assert client.get("/ui/statistics?period=day").status_code == 200
    response = client.get("/ui/statistics?period=%00")
    assert response.status_code == 400 and "period: " in response.get_data(as_text=True)
