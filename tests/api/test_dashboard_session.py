"""The dashboard's session over HTTP: sign-in cookie, CSRF on changes, redirects to sign-in and back."""

from __future__ import annotations

import re

import pytest

from api.ui.session import SESSION_COOKIE, SIGN_IN_COOKIE, local_page


def _sign_in(client, user, next_page: str = "/ui/active"):  # type: ignore[no-untyped-def]
    page = client.get(f"/ui/sign-in?next={next_page}")
    guard = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    token = client.post("/auth/token", json={"username": user.username, "password": user.password})
    return client.post(
        "/ui/session",
        data={"csrf_token": guard, "token": token.get_json()["access_token"], "next": next_page},
    )


def _csrf(page_html: str) -> str:
    return re.search(r'<meta name="csrf-token" content="([^"]+)"', page_html).group(1)


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("/ui/job-logs/7", "/ui/job-logs/7"),
        ("/ui/job-logs?status=failed&page=2", "/ui/job-logs?status=failed&page=2"),
        ("https://evil.example/ui/", "/ui/active"),
        ("//evil.example/ui", "/ui/active"),
        ("/ui//evil.example", "/ui/active"),
        ("/ui/\\evil.example", "/ui/active"),
        ("/metrics", "/ui/active"),
        ("/ui/x\r\nSet-Cookie: a=b", "/ui/active"),
        (None, "/ui/active"),
    ],
)
def test_next_is_only_ever_a_dashboard_page_of_ours(app, target, expected):
    with app.test_request_context():
        assert local_page(target) == expected


def test_a_page_without_a_session_goes_to_sign_in_and_back_after(client, users):
    response = client.get("/ui/job-logs/42?x=1")
    assert response.status_code == 303
    assert response.headers["Location"] == "/ui/sign-in?next=%2Fui%2Fjob-logs%2F42%3Fx%3D1"

    signed = _sign_in(client, users.alice, "/ui/job-logs?status=failed")
    assert signed.status_code == 303 and signed.headers["Location"] == "/ui/job-logs?status=failed"
    cookie = client.get_cookie(SESSION_COOKIE)
    assert cookie.http_only and cookie.same_site == "Lax" and cookie.path == "/"
    assert client.get_cookie(SIGN_IN_COOKIE, path="/ui") is None  # the sign-in guard is used up
    assert client.get("/ui/job-logs").status_code == 200


def test_a_foreign_next_lands_on_the_home_page(client, users):
    signed = _sign_in(client, users.alice, "https://evil.example/")
    assert signed.headers["Location"] == "/ui/active"


def test_sign_in_needs_the_forms_guard_and_a_real_token(client, users):
    token = client.post("/auth/token", json={"username": "alice", "password": "alice-password"})
    forged = client.post("/ui/session", data={"token": token.get_json()["access_token"]})
    assert forged.status_code == 403 and forged.is_json and "sign-in form" in forged.get_json()["message"]
    client.get("/ui/sign-in")
    guard = client.get_cookie(SIGN_IN_COOKIE, path="/ui").value
    bad = client.post("/ui/session", data={"csrf_token": guard, "token": "not-a-jwt"})
    assert bad.status_code == 400 and bad.get_json()["message"].startswith("token:")
    assert client.get_cookie(SESSION_COOKIE) is None


def test_the_cookie_reads_the_api_but_changes_need_the_csrf_token(client, users, insert_job_logs):
    from datetime import UTC, datetime

    [job_id] = insert_job_logs(
        [{"owner_id": users.alice.id, "status": "failed", "queued_at": datetime.now(UTC), "args": {}}]
    )
    _sign_in(client, users.alice)
    assert client.get(f"/job-logs/{job_id}").status_code == 200  # a read: the cookie is enough

    refused = client.post(f"/job-logs/{job_id}/rerun")
    assert refused.status_code == 403 and "CSRF" in refused.get_json()["message"]
    wrong = client.post(f"/job-logs/{job_id}/rerun", headers={"X-CSRF-Token": "0" * 40})
    assert wrong.status_code == 403
    assert client.get("/job-logs?status=queued").get_json() == []  # nothing was launched

    csrf = _csrf(client.get("/ui/active").get_data(as_text=True))
    assert client.post(f"/job-logs/{job_id}/cancel", headers={"X-CSRF-Token": csrf}).status_code == 409


def test_sign_out_needs_the_csrf_token_and_ends_the_session(client, users):
    _sign_in(client, users.alice)
    assert client.post("/ui/sign-out").status_code == 403
    csrf = _csrf(client.get("/ui/active").get_data(as_text=True))
    response = client.post("/ui/sign-out", data={"csrf_token": csrf})
    assert response.status_code == 303 and response.headers["Location"] == "/ui/sign-in"
    assert client.get_cookie(SESSION_COOKIE) is None
    assert client.get("/ui/active").status_code == 303


def test_an_expired_session_goes_back_to_sign_in(client, users, settings):
    import jwt

    from netraven_tasks.auth import ALGORITHM, AUDIENCE, ISSUER

    expired = jwt.encode(
        {"sub": str(users.alice.id), "iat": 1, "exp": 2, "iss": ISSUER, "aud": AUDIENCE},
        settings.secret_key,
        algorithm=ALGORITHM,
    )
    client.set_cookie(SESSION_COOKIE, expired, path="/")
    response = client.get("/ui/statistics")
    assert response.status_code == 303 and response.headers["Location"].startswith("/ui/sign-in?next=")
    assert client.get_cookie(SESSION_COOKIE) is None
    assert client.get("/job-logs/active").status_code == 401


def test_every_page_renders_for_a_signed_in_user_with_our_assets_only(client, users):
    _sign_in(client, users.admin)
    for path in (
        "/ui/active",
        "/ui/job-logs",
        "/ui/statistics",
        "/ui/notifications",
        "/ui/preferences",
        "/ui/workers",
    ):
        response = client.get(path)
        assert response.status_code == 200, path
        html = response.get_data(as_text=True)
        assert "default-src 'self'" in response.headers["Content-Security-Policy"]
        assert not re.search(r'(?:src|href)="(?:https?:)?//', html), path  # nothing from elsewhere
    assert client.get("/ui/static/ui.js").status_code == 200


def test_bad_filters_name_their_field(client, users):
    _sign_in(client, users.alice)
    response = client.get("/ui/job-logs?status=exploded")
    assert response.status_code == 400 and "status: must be one of" in response.get_data(as_text=True)
    assert client.get("/ui/statistics?period=decade").status_code == 400


def test_workers_is_for_admins(client, users):
    _sign_in(client, users.alice)
    assert client.get("/ui/workers").status_code == 403


def test_docs_load_swagger_ui_from_this_server(client):
    html = client.get("/docs").get_data(as_text=True)
    assert "cdn" not in html and 'src="/docs/assets/swagger-ui-bundle.js"' in html
    asset = client.get("/docs/assets/swagger-ui-bundle.js")
    assert asset.status_code == 200 and b"SwaggerUIBundle" in asset.get_data()


def test_without_redis_the_pages_poll_and_the_stream_says_why(users, database_url, tmp_path):
    from api import create_app
    from netraven_tasks.settings import Settings
    from tests.conftest import TEST_ENV

    embedded = Settings.from_env(
        {
            "NETRAVEN_VAR_DIR": str(tmp_path),
            "NETRAVEN_DATABASE_URL": database_url,
            "NETRAVEN_SECRET_KEY": TEST_ENV["NETRAVEN_SECRET_KEY"],
        }
    )
    assert not embedded.broker_is_redis
    client = create_app(embedded).test_client()
    stream = client.get("/job-logs/stream", headers=users.alice.headers)
    assert stream.status_code == 503 and "poll GET /job-logs/active" in stream.get_json()["message"]
    _sign_in(client, users.alice)
    html = client.get("/ui/active").get_data(as_text=True)
    assert 'data-live="poll"' in html and 'data-live-after=""' in html
