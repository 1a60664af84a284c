"""Live updates on the server's event loop (``api/live_hub.py``), through the real API server
(``netraven-tasks api``, one process) and the session's worker: a WebSocket client gets a job's
transitions in order and only its own rows, resumes after an id, and is closed when its token is
revoked; more open event streams than the API has threads leave every other request answered."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import ClientConnection, connect

from api.asgi import APP_THREADS
from tests.support.api_server import serving_api

ORDER = ["queued", "running", "retrying", "completed", "failed", "canceled"]


@pytest.fixture(scope="module")
def api_port(database_url, worker, tmp_path_factory) -> Iterator[int]:  # type: ignore[no-untyped-def]
    with serving_api(tmp_path_factory.mktemp("live") / "api.log") as port:
        yield port


def _ws(
    port: int, token: str, query: str = "", origin: str | None = None, cookie: str | None = None
) -> ClientConnection:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    if cookie:
        headers["Cookie"] = f"netraven_session={cookie}"
    return connect(
        f"ws://127.0.0.1:{port}/job-logs/ws{query}",
        additional_headers=headers,
        origin=origin,
        open_timeout=10,
    )


def _launch(port: int, user, job_type: str = "test_flaky", **arguments: Any) -> int:  # type: ignore[no-untyped-def]
    answer = requests.post(
        f"http://127.0.0.1:{port}/jobs/{job_type}/runs",
        json=arguments or {"succeed_on_attempt": 1},
        headers=user.headers,
        timeout=10,
    )
    assert answer.status_code == 202, answer.text
    return int(answer.json()["job_log_id"])


def _messages_until(ws: ClientConnection, done, timeout: float = 30) -> list[dict[str, Any]]:  # type: ignore[no-untyped-def]
    """Messages (pings left out) until ``done(message)`` holds for one."""
    seen: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        message = json.loads(ws.recv(timeout=max(0.1, deadline - time.monotonic())))
        if message["event"] == "ping":
            continue
        seen.append(message)
        if done(message):
            return seen
    raise AssertionError(f"no final message within {timeout} s; saw {seen}")


def _final(job_log_id: int):  # type: ignore[no-untyped-def]
    return lambda m: (
        m["event"] == "job" and m["data"]["id"] == job_log_id and m["data"]["status"] == "completed"
    )


def test_a_websocket_gets_a_jobs_transitions_in_order_and_only_rows_it_may_see(api_port, users):
    with _ws(api_port, users.alice.token) as alice_ws, _ws(api_port, users.bob.token) as bob_ws:
        alice_job = _launch(api_port, users.alice)
        seen = _messages_until(alice_ws, _final(alice_job))
        statuses = [m["data"]["status"] for m in seen if m["event"] == "job" and m["data"]["id"] == alice_job]
        assert statuses[-1] == "completed" and "running" in statuses
        assert [ORDER.index(s) for s in statuses] == sorted(ORDER.index(s) for s in statuses), statuses
        assert all(m["id"] for m in seen)
        # Bob's own job, launched after alice's ended, is the sentinel: his socket had the time
        # alice's rows needed to reach it, and none of them did.
        bob_job = _launch(api_port, users.bob)
        bobs = _messages_until(bob_ws, _final(bob_job))
        assert {m["data"]["owner_id"] for m in bobs if m["event"] == "job"} == {users.bob.id}
    with _ws(api_port, users.admin.token, f"?after={seen[0]['id']}") as admin_ws:
        replay = _messages_until(admin_ws, _final(bob_job))  # the admin resumes and sees everyone's
        owners = {m["data"]["owner_id"] for m in replay if m["event"] == "job"}
        assert owners >= {users.alice.id, users.bob.id}
        assert seen[0]["id"] not in [m["id"] for m in replay]  # after it, not from it


def test_a_websocket_is_closed_when_its_access_token_is_revoked_and_the_other_keeps_working(api_port, users):
    base = f"http://127.0.0.1:{api_port}/users/me/tokens"
    made = [
        requests.post(
            base, json={"name": f"wall-{n}", "expires_in_days": 1}, headers=users.alice.headers, timeout=10
        )
        for n in (1, 2)
    ]
    (first, second) = [answer.json() for answer in made]
    with _ws(api_port, first["token"]) as revoked_ws, _ws(api_port, second["token"]) as kept_ws:
        gone = requests.delete(f"{base}/{first['id']}", headers=users.alice.headers, timeout=10)
        assert gone.status_code == 204
        with pytest.raises(ConnectionClosed) as closed:
            while True:
                revoked_ws.recv(timeout=15)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
        job = _launch(api_port, users.alice)
        assert _messages_until(kept_ws, _final(job))[-1]["data"]["id"] == job


def test_refusals_unauthenticated_foreign_origin_and_a_bad_resume_id(api_port, users):
    with pytest.raises(ConnectionClosed) as closed, _ws(api_port, "") as anonymous:
        anonymous.recv(timeout=10)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 4401
    # The dashboard's cookie from a page of another site: refused (cross-site WebSocket hijacking).
    cookie = users.alice.token
    with (
        pytest.raises(ConnectionClosed) as foreign,
        _ws(api_port, "", "", "https://evil.example", cookie) as ws,
    ):
        ws.recv(timeout=10)
    assert foreign.value.rcvd is not None and foreign.value.rcvd.code == 4403
    stream = f"http://127.0.0.1:{api_port}/job-logs/stream"
    assert requests.get(stream, timeout=10).status_code == 401
    bad = requests.get(stream, params={"after": "tomorrow"}, headers=users.alice.headers, timeout=10)
    assert bad.status_code == 422 and "after" in bad.text  # the API's own validation answers


def _open_stream(port: int, token: str) -> socket.socket:
    conn = socket.create_connection(("127.0.0.1", port), timeout=10)
    conn.sendall(
        f"GET /job-logs/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n".encode()
    )
    head = conn.recv(4096)
    assert head.startswith(b"HTTP/1.1 200"), head[:200]
    return conn


def test_more_open_streams_than_threads_leave_other_requests_answered(api_port, users):
    streams = [_open_stream(api_port, users.alice.token) for _ in range(APP_THREADS + 8)]
    try:
        for path in ("/healthz", "/job-logs?page_size=5"):
            answer = requests.get(
                f"http://127.0.0.1:{api_port}{path}", headers=users.alice.headers, timeout=10
            )
            assert answer.status_code == 200, (path, answer.text[:200])
        job = _launch(api_port, users.alice)
        got = threading.Event()

        def read_last() -> None:  # the newest stream gets the job's rows too
            buffer = b""
            while f'"id": {job}'.encode() not in buffer:
                buffer += streams[-1].recv(65536)
            got.set()

        threading.Thread(target=read_last, daemon=True).start()
        assert got.wait(30), "the job's rows did not reach the last stream"
    finally:
        for conn in streams:
            conn.close()
