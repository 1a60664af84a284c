"""The API's edges: body size, JSON nesting, error size, sign-in rate limit, IDs and dates (rows 7-11)."""

from __future__ import annotations

import io
import json
import time
import uuid

import pytest

from tests.api.test_auth_and_errors import assert_error


def nested(depth: int) -> bytes:
    return b'{"username": ' + b"[" * depth + b"]" * depth + b', "password": "x"}'


def test_row8_body_above_the_limit_is_413_json_before_parsing(client, settings):
    body = b'{"username": "alice", "password": "' + b"x" * settings.max_body_bytes + b'"}'
    response = client.post("/auth/token", data=body, content_type="application/json")
    assert "larger than" in assert_error(response, 413)["message"]


def test_row8_chunked_body_above_the_limit_is_413_json(client, settings):
    body = io.BytesIO(b'{"username": "alice", "password": "' + b"x" * (settings.max_body_bytes + 10) + b'"}')
    response = client.post(
        "/auth/token",
        input_stream=body,
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},  # what gunicorn says of a chunked body
    )
    assert_error(response, 413)


@pytest.mark.parametrize("depth", [33, 500, 1000, 100_000])
def test_row10_deep_json_is_400_json_on_public_and_private_routes(client, users, depth):
    body = assert_error(client.post("/auth/token", data=nested(depth), content_type="application/json"), 400)
    assert "nests deeper" in body["message"]
    launch = client.post(
        "/jobs/test_flaky/runs",
        data=nested(depth),
        content_type="application/json",
        headers=users.bob.headers,
    )
    assert_error(launch, 400)


def test_nesting_within_the_limit_is_parsed_as_usual(client, users):
    # 30 levels of a wrong type: an ordinary 422, not a 400.
    assert_error(client.post("/auth/token", data=nested(30), content_type="application/json"), 422)


def test_row11_error_lists_are_capped(client, users):
    body = {f"unknown_{i}": i for i in range(200_000)}
    response = client.patch("/users/me/notification-preferences", json=body, headers=users.bob.headers)
    assert response.status_code in {413, 422}
    assert response.is_json and len(response.get_data()) < 20_000


def test_row11_many_unknown_keys_within_the_body_limit_get_a_short_answer(client, users):
    body = {f"k{i}": 0 for i in range(60_000)}
    assert len(json.dumps(body)) < 1024 * 1024
    response = client.patch("/users/me/notification-preferences", json=body, headers=users.bob.headers)
    error = assert_error(response, 422)
    assert len(response.get_data()) < 20_000 and len(error["errors"]["json"]) <= 20


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [("get", "/no/such/page", 404), ("delete", "/healthz", 405), ("get", "/job-logs/99999999", 404)],
)
def test_every_error_status_is_json(client, users, method, path, code):
    assert_error(getattr(client, method)(path, headers=users.bob.headers), code)


def test_url_and_headers_above_the_limits_are_414_and_431_json(client, users):
    assert_error(client.get("/healthz?x=" + "a" * 5000), 414)
    many = {f"X-Filler-{i}": "v" for i in range(150)}
    assert_error(client.get("/healthz", headers=many), 431)


@pytest.mark.parametrize("user_id", ["%C2%B2", "%D9%A3", "%EF%BC%91", "1%C2%B2"])
def test_row10_non_ascii_digits_in_ids_are_404_not_500(client, users, user_id):
    assert_error(client.get(f"/users/{user_id}/notification-preferences", headers=users.bob.headers), 404)


@pytest.mark.parametrize(
    "job_log_id", ["%C2%B2", "%D9%A3", "%EF%BC%91", "1e3", "-1", "99999999999999999999999"]
)
def test_row10_odd_job_log_ids_are_404_not_500(client, users, job_log_id):
    assert_error(client.get(f"/job-logs/{job_log_id}", headers=users.bob.headers), 404)


@pytest.mark.parametrize("since", ["9999-12-25T00:00:00", "0001-01-01T00:00:00"])
def test_row10_dates_python_cannot_add_to_are_422(client, users, since):
    response = client.get(f"/job-logs/statistics?since={since}", headers=users.bob.headers)
    assert "since" in assert_error(response, 422)["message"]


def test_token_answers_are_never_cached(client, users):
    response = client.post("/auth/token", json={"username": "alice", "password": users.alice.password})
    assert response.status_code == 200
    assert response.headers["Cache-Control"] == "no-store"


def limited_client(settings, per_username: str, per_address: str):  # type: ignore[no-untyped-def]
    """An app with these sign-in limits, and a client address of its own."""
    from api import create_app

    tight = settings.model_copy(
        update={"login_rate_limit": per_username, "login_address_rate_limit": per_address}
    )
    app = create_app(tight)
    app.testing = True
    address = f"127.0.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
    return app.test_client(), address


def test_row7_failed_sign_ins_get_429_with_retry_after_then_the_right_password_works(settings, make_api_user):
    # An 8 s window: five scrypt verifications must fit in it on a loaded 2-core machine too.
    client, address = limited_client(settings, "3 per 8 second", "6 per 8 second")
    user = make_api_user(f"guess-{uuid.uuid4().hex[:6]}")
    environ = {"REMOTE_ADDR": address}

    def sign_in(password: str):  # type: ignore[no-untyped-def]
        return client.post(
            "/auth/token", json={"username": user.username, "password": password}, environ_base=environ
        )

    started = time.monotonic()
    codes = [sign_in(f"wrong-{i}").status_code for i in range(3)]
    assert codes == [401, 401, 401]
    limited = sign_in("wrong-again")
    body = assert_error(limited, 429)
    assert "Retry-After" in limited.headers and int(limited.headers["Retry-After"]) >= 0
    assert "too many failed sign-ins" in body["message"]
    assert_error(sign_in(user.password), 429)  # even the right password waits: no oracle
    assert time.monotonic() - started < 8, "the limit must trip within its window"
    time.sleep(max(0.0, started + 8.2 - time.monotonic()))
    assert sign_in(user.password).status_code == 200


def test_row7_limit_per_address_covers_many_usernames(settings):
    client, address = limited_client(settings, "3 per minute", "6 per minute")
    codes = [
        client.post(
            "/auth/token",
            json={"username": f"nobody-{i}", "password": "x"},
            environ_base={"REMOTE_ADDR": address},
        ).status_code
        for i in range(8)
    ]
    assert codes[:6] == [401] * 6 and codes[6:] == [429, 429]


def test_a_locked_username_leaves_other_users_at_its_address_signing_in_until_the_ceiling(
    settings, make_api_user
):
    # Windows of a minute: a sign-in takes a scrypt verification, nine of them can outlast 2 s.
    client, address = limited_client(settings, "3 per minute", "6 per minute")
    locked, other = (
        make_api_user(f"locked-{uuid.uuid4().hex[:6]}"),
        make_api_user(f"nat-{uuid.uuid4().hex[:6]}"),
    )

    def sign_in(username: str, password: str) -> int:
        response = client.post(
            "/auth/token",
            json={"username": username, "password": password},
            environ_base={"REMOTE_ADDR": address},
        )
        return response.status_code

    assert [sign_in(locked.username, f"wrong-{i}") for i in range(4)] == [401, 401, 401, 429]
    assert sign_in(locked.username, locked.password) == 429
    assert sign_in(other.username, other.password) == 200  # the same address, another user
    # The address ceiling (6) counts every username's failures, not the refused attempts above.
    assert [sign_in(f"nobody-{i}", "x") for i in range(3)] == [401, 401, 401]
    assert sign_in(other.username, other.password) == 429  # the trade-off: all behind it wait


def test_successful_sign_ins_are_not_counted(settings, make_api_user):
    client, address = limited_client(settings, "3 per minute", "6 per minute")
    user = make_api_user(f"often-{uuid.uuid4().hex[:6]}")
    for _ in range(8):
        response = client.post(
            "/auth/token",
            json={"username": user.username, "password": user.password},
            environ_base={"REMOTE_ADDR": address},
        )
        assert response.status_code == 200
