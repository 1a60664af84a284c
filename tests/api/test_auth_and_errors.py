"""POST /auth/token, the JSON error shape of every status, and /healthz."""

from __future__ import annotations

import pytest
from flask_smorest import abort
from sqlalchemy import update


def assert_error(response, code: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    assert response.status_code == code, response.get_data(as_text=True)
    assert response.is_json, response.content_type
    body = response.get_json()
    assert body["code"] == code and body["status"] and body["message"]
    text = response.get_data(as_text=True)
    assert "<html" not in text.lower() and "Traceback" not in text
    return body  # type: ignore[no-any-return]


def test_token_for_the_right_password_works_as_bearer(client, users):
    response = client.post("/auth/token", json={"username": "alice", "password": "alice-password"})
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "bearer" and body["expires_in"] > 0
    me = client.get(
        "/users/me/notification-preferences", headers={"Authorization": f"Bearer {body['access_token']}"}
    )
    assert me.status_code == 200


@pytest.mark.parametrize(
    "credentials",
    [{"username": "alice", "password": "wrong"}, {"username": "nobody", "password": "alice-password"}],
    ids=["wrong-password", "unknown-user"],
)
def test_token_for_wrong_credentials_is_401(client, users, credentials):
    body = assert_error(client.post("/auth/token", json=credentials), 401)
    assert "wrong username or password" in body["message"]


def test_token_for_a_deactivated_user_is_401(client, users, db_session):
    from netraven_tasks.models import User

    db_session.execute(update(User).where(User.id == users.alice.id).values(active=False))
    db_session.commit()
    assert_error(client.post("/auth/token", json={"username": "alice", "password": "alice-password"}), 401)


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"username": "alice"}, "password"),
        ({"password": "x"}, "username"),
        ({"username": 5, "password": "x"}, "username"),
    ],
)
def test_token_request_missing_or_wrong_fields_is_422_naming_them(client, users, body, field):
    error = assert_error(client.post("/auth/token", json=body), 422)
    assert field in error["errors"]["json"] and field in error["message"]


def test_unknown_route_is_json_404(client):
    assert_error(client.get("/no/such/thing"), 404)


def test_wrong_method_is_json_405_with_allow(client, users):
    response = client.delete("/jobs", headers=users.alice.headers)
    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]


def test_invalid_json_body_is_a_json_error(client, users):
    response = client.patch(
        "/users/me/notification-preferences",
        data="{not json",
        content_type="application/json",
        headers=users.alice.headers,
    )
    assert response.status_code in {400, 422}
    assert_error(response, response.status_code)


@pytest.mark.parametrize("code", [401, 403, 409, 422])
def test_aborts_are_json_with_code_status_message(settings, code):
    from api import create_app

    app = create_app(settings)

    @app.get("/raise-it")
    def raise_it():  # type: ignore[no-untyped-def]
        abort(code, message=f"because {code}")

    body = assert_error(app.test_client().get("/raise-it"), code)
    assert body["message"] == f"because {code}"


def test_unexpected_exception_is_json_500_without_traceback(settings):
    from api import create_app

    app = create_app(settings)
    app.testing = True  # even where exceptions would propagate, the API answers JSON

    @app.get("/explode")
    def explode():  # type: ignore[no-untyped-def]
        raise RuntimeError("secret internal detail")

    response = app.test_client().get("/explode")
    body = assert_error(response, 500)
    assert "secret internal detail" not in response.get_data(as_text=True)
    assert body["status"] == "Internal Server Error"


def test_healthz_is_public_and_checks_database_and_broker(client, settings):
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.get_json() == {"status": "ok", "checks": {"database": "ok", "broker": "ok"}}


def test_healthz_is_503_when_the_broker_is_unreachable(settings):
    from api import create_app

    broken = settings.model_copy(update={"broker_url": "redis://127.0.0.1:1/0"})
    response = create_app(broken).test_client().get("/healthz")
    assert response.status_code == 503
    body = response.get_json()
    assert body["status"] == "unavailable" and body["checks"]["database"] == "ok"
    assert body["checks"]["broker"].startswith("error")


def test_openapi_and_docs_are_public(client):
    spec = client.get("/openapi.json")
    assert spec.status_code == 200
    paths = spec.get_json()["paths"]
    for path in [
        "/auth/token", "/jobs", "/jobs/{job_type}/runs", "/job-logs", "/job-logs/{job_log_id}",
        "/job-logs/active", "/job-logs/statistics", "/users/{user_id}/notification-preferences", "/healthz",
    ]:  # fmt: skip
        assert path in paths
    assert client.get("/docs").status_code == 200


@pytest.mark.parametrize("path", ["/job-logs?stauts=failed", "/job-logs/statistics?period=week", "/jobs?x=1"])
def test_unknown_query_parameters_are_422_naming_them(client, users, path):
    body = assert_error(client.get(path, headers=users.alice.headers), 422)
    name = path.split("?")[1].split("=")[0]
    assert name in body["message"] and name in body["errors"]["query"]
