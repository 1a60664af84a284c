"""Revocation reaches what is already open: a signed-out cookie stops working at once, and an open
event stream ends within seconds of sign-out, deactivation or a password change."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest

from api.ui.session import SESSION_COOKIE
from netraven_tasks.db import session_factory
from netraven_tasks.users import deactivate_user, set_password

REVOKED = "access revoked"
WITHIN_SECONDS = 5.0


def _sign_in(client, user) -> None:  # type: ignore[no-untyped-def]
    page = client.get("/ui/sign-in")
    guard = re.search(r'name="csrf_token" value="([^"]+)"', page.get_data(as_text=True)).group(1)
    token = client.post("/auth/token", json={"username": user.username, "password": user.password})
    client.post("/ui/session", data={"csrf_token": guard, "token": token.get_json()["access_token"]})
    assert client.get_cookie(SESSION_COOKIE) is not None


def _open_stream(client, headers=None):  # type: ignore[no-untyped-def]
    response = client.get("/job-logs/stream", headers=headers or {}, buffered=False)
    assert response.status_code == 200
    chunks: Iterator[bytes] = iter(response.response)
    assert next(chunks).startswith(b"retry:")
    return response, chunks


def _time_to_end(chunks: Iterator[bytes], limit: float) -> tuple[float, str]:
    """Seconds until the stream says access was revoked (reading at most ``limit`` s), and its text."""
    began, text = time.monotonic(), ""
    for chunk in chunks:
        text += chunk.decode()
        if REVOKED in text or time.monotonic() - began > limit:
            break
    return time.monotonic() - began, text


def test_sign_out_revokes_the_cookie_server_side_and_ends_its_stream(app, client, users):
    _sign_in(client, users.alice)
    cookie = client.get_cookie(SESSION_COOKIE).value
    response, chunks = _open_stream(client)
    csrf = re.search(
        r'<meta name="csrf-token" content="([^"]+)"', client.get("/ui/active").get_data(as_text=True)
    )
    assert client.post("/ui/sign-out", data={"csrf_token": csrf.group(1)}).status_code == 303

    copied = app.test_client()  # the same cookie value, kept by someone else
    copied.set_cookie(SESSION_COOKIE, cookie)
    refused = copied.get("/job-logs")
    assert refused.status_code == 401 and "signed out" in refused.get_json()["message"]
    assert copied.get("/ui/active").status_code == 303  # back to sign-in
    elapsed, text = _time_to_end(chunks, limit=3 * WITHIN_SECONDS)
    response.close()
    assert REVOKED in text and elapsed < WITHIN_SECONDS, (elapsed, text)
    # Only that session: alice's other tokens, and a new sign-in, still work.
    assert client.get("/job-logs", headers=users.alice.headers).status_code == 200
    _sign_in(client, users.alice)
    assert client.get("/job-logs").status_code == 200


@pytest.mark.parametrize(
    "revoke",
    [
        pytest.param(lambda session: deactivate_user(session, "alice"), id="deactivated"),
        pytest.param(lambda session: set_password(session, "alice", "a-new-long-password"), id="password"),
    ],
)
def test_an_open_stream_ends_within_seconds_when_its_token_is_revoked(client, users, settings, revoke):
    response, chunks = _open_stream(client, users.alice.headers)
    with session_factory(settings).begin() as session:
        revoke(session)
    elapsed, text = _time_to_end(chunks, limit=3 * WITHIN_SECONDS)
    response.close()
    assert REVOKED in text and elapsed < WITHIN_SECONDS, (elapsed, text)
    assert client.get("/job-logs/stream", headers=users.alice.headers).status_code == 401
