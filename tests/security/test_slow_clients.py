"""Hundreds of slow clients (headers or a body trickled a line a second) cannot hold the API:
health checks and a signed-in list answer at once, and the server's deadlines close them all."""

from __future__ import annotations

import contextlib
import selectors
import socket
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from tests.support.api_server import serving_api

HEAD_TRICKLERS = 250
BODY_TRICKLERS = 250
DEADLINE_SECONDS = 6  # the server's head and body deadlines in this test
PROMPT_SECONDS = 2.0  # generous: the benchmark times the p95 (benchmarks/slow_clients.py)


@pytest.fixture(scope="module")
def api_port(database_url, tmp_path_factory) -> Iterator[int]:  # type: ignore[no-untyped-def]
    deadlines = {
        "NETRAVEN_REQUEST_HEAD_SECONDS": str(DEADLINE_SECONDS),
        "NETRAVEN_REQUEST_BODY_SECONDS": str(DEADLINE_SECONDS),
    }
    with serving_api(tmp_path_factory.mktemp("slow") / "api.log", env=deadlines) as port:
        yield port


class Tricklers:
    """Slow connections: each sends its next line (a header, or a byte of its body) every second."""

    def __init__(self, port: int) -> None:
        self.sockets: list[socket.socket] = []
        for i in range(HEAD_TRICKLERS + BODY_TRICKLERS):
            conn = socket.create_connection(("127.0.0.1", port))
            if i < HEAD_TRICKLERS:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            else:
                conn.sendall(b"POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 1000\r\n\r\n{")  # fmt: skip
            self.sockets.append(conn)
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _trickle(self) -> None:
        while not self.stop.wait(1.0):
            for i, conn in enumerate(self.sockets):
                with contextlib.suppress(OSError):  # closed by the server: that is the point
                    conn.send(b"X-Slow: 1\r\n" if i < HEAD_TRICKLERS else b" ")

    def wait_until_all_closed(self, timeout: float) -> tuple[int, int]:
        """(connections the server closed, of which answered 408) within ``timeout``."""
        selector = selectors.DefaultSelector()
        answers: dict[socket.socket, bytes] = {}
        for conn in self.sockets:
            conn.setblocking(False)
            selector.register(conn, selectors.EVENT_READ)
            answers[conn] = b""
        closed = 0
        deadline = time.monotonic() + timeout
        while closed < len(self.sockets) and (left := deadline - time.monotonic()) > 0:
            for key, _ in selector.select(left):
                conn = key.fileobj
                assert isinstance(conn, socket.socket)
                try:
                    data = conn.recv(4096)
                except ConnectionResetError:
                    data = b""
                answers[conn] += data
                if not data:
                    selector.unregister(conn)
                    closed += 1
        selector.close()
        return closed, sum(b" 408 " in answer.split(b"\r\n", 1)[0] for answer in answers.values())

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for conn in self.sockets:
            conn.close()


def test_slow_clients_cannot_hold_the_api_and_the_deadlines_close_them(api_port, make_api_user):
    alice = make_api_user("alice")
    base = f"http://127.0.0.1:{api_port}"
    tricklers = Tricklers(api_port)
    try:
        time.sleep(0.5)  # let every slow connection reach the server before the checks
        for _ in range(5):
            started = time.monotonic()
            assert requests.get(f"{base}/healthz", timeout=PROMPT_SECONDS).status_code in {200, 503}
            assert time.monotonic() - started < PROMPT_SECONDS
        started = time.monotonic()
        listed = requests.get(f"{base}/job-logs", headers=alice.headers, timeout=PROMPT_SECONDS)
        assert listed.status_code == 200, listed.text
        assert time.monotonic() - started < PROMPT_SECONDS

        closed, answered_408 = tricklers.wait_until_all_closed(DEADLINE_SECONDS + 10)
        assert closed == HEAD_TRICKLERS + BODY_TRICKLERS, "the server's deadlines close every slow connection"
        assert answered_408 == HEAD_TRICKLERS + BODY_TRICKLERS, "each is told why (408, JSON)"
    finally:
        tricklers.close()


STREAMS = 20


def test_event_streams_run_side_by_side_through_the_server(api_port, make_api_user, redis_client):
    """Each open stream holds one of the app's threads; 20 at once still leave the API prompt."""
    from netraven_tasks.tracking.live import LiveFeed

    alice = make_api_user("alice")
    base = f"http://127.0.0.1:{api_port}"
    streams = [
        requests.get(f"{base}/job-logs/stream", headers=alice.headers, stream=True, timeout=10)
        for _ in range(STREAMS)
    ]
    try:
        lines = [stream.iter_lines(decode_unicode=True) for stream in streams]
        for stream, stream_lines in zip(streams, lines, strict=True):
            assert stream.status_code == 200 and stream.headers["content-type"].startswith(
                "text/event-stream"
            )
            assert next(line for line in stream_lines if line.startswith(":")) == ": connected"
        started = time.monotonic()
        assert requests.get(f"{base}/healthz", timeout=PROMPT_SECONDS).status_code in {200, 503}
        assert time.monotonic() - started < PROMPT_SECONDS
        LiveFeed(redis_client).publish([{"id": 424242, "owner_id": alice.id, "status": "running"}])
        for stream_lines in lines:
            assert next(line for line in stream_lines if line.startswith("data: ")).find('"id": 424242') > 0
    finally:
        for stream in streams:
            stream.close()
