"""Open live streams against the real API server (``netraven-tasks api``, 2 processes, as ``up``
runs it): ``/healthz`` and the job-log list p95 while ``STREAMS`` event streams are open, beside
their idle p95 of the same run, and how long one event takes to reach every open stream.

The streams are plain sockets read by one selector thread here, so the client side costs little;
the event is published to the live feed as the recorder publishes a committed row, and the time
counted is from that publish to the last stream that shows it.
"""

from __future__ import annotations

import os
import resource
import selectors
import socket
import threading
import time
import uuid
from typing import Any

import redis
import requests

from benchmarks.queries import p95
from benchmarks.scratch import bench_redis_url, scratch_database
from benchmarks.slow_clients import BENCH_SECRET_KEY, TIMEOUT_SECONDS, api_process, healthz_ms

STREAMS = 1000
SAMPLES = 40
FANOUT_TIMEOUT_SECONDS = 10.0
TARGET_FANOUT_MS = 1000
TARGET_SLOWDOWN = 2.0  # p95 with the streams open < this times the idle p95


def _token(database_url: str) -> tuple[int, str]:
    from netraven_tasks.auth import issue_token
    from netraven_tasks.db import session_factory
    from netraven_tasks.settings import Settings
    from netraven_tasks.users import create_user

    settings = Settings.from_env(
        {
            "NETRAVEN_DATABASE_URL": database_url,
            "NETRAVEN_SECRET_KEY": BENCH_SECRET_KEY,
            "NETRAVEN_BROKER_URL": bench_redis_url(),
        }
    )
    with session_factory(settings).begin() as session:
        user = create_user(session, "noc-wall", "noc@example.test", "noc-wall-password-1", is_admin=True)
        return user.id, issue_token(user, settings)


class _Streams:
    """``count`` open event streams, read by one selector thread that notes when each saw ``marker``."""

    def __init__(self, port: int, token: str, count: int):
        self.selector = selectors.DefaultSelector()
        self.buffers: dict[socket.socket, bytes] = {}
        self.seen: dict[socket.socket, float] = {}
        self.marker = b""
        self.stop = threading.Event()
        request = f"GET /job-logs/stream HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {token}\r\n\r\n"
        for _ in range(count):
            conn = socket.create_connection(("127.0.0.1", port), timeout=TIMEOUT_SECONDS)
            conn.sendall(request.encode())
            head = conn.recv(4096)
            if not head.startswith(b"HTTP/1.1 200"):
                raise RuntimeError(f"a stream was refused: {head[:200]!r}")
            conn.setblocking(False)
            self.buffers[conn] = b""
            self.selector.register(conn, selectors.EVENT_READ)
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        while not self.stop.is_set():
            for key, _ in self.selector.select(timeout=0.2):
                conn: socket.socket = key.fileobj  # type: ignore[assignment]
                try:
                    data = conn.recv(65536)
                except BlockingIOError:
                    continue
                if not data:
                    self.selector.unregister(conn)
                    continue
                tail = self.buffers[conn][-256:] + data
                self.buffers[conn] = tail
                if self.marker and self.marker in tail and conn not in self.seen:
                    self.seen[conn] = time.perf_counter()

    def fan_out_ms(self, client: redis.Redis, owner: int) -> float | None:
        """Publish one row; milliseconds until every stream showed it (None: some never did)."""
        from netraven_tasks.tracking.live import LiveFeed

        marker = f"bench-{uuid.uuid4().hex}"
        self.marker = marker.encode()
        started = time.perf_counter()
        LiveFeed(client).publish([{"id": 0, "owner_id": owner, "status": "running", "device": marker}])
        deadline = started + FANOUT_TIMEOUT_SECONDS
        while len(self.seen) < len(self.buffers) and time.perf_counter() < deadline:
            time.sleep(0.01)
        if len(self.seen) < len(self.buffers):
            return None
        return (max(self.seen.values()) - started) * 1000

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for conn in self.buffers:
            conn.close()


def _p95(port: int, path: str, token: str) -> float:
    if path == "/healthz":
        samples = [healthz_ms(port) or TIMEOUT_SECONDS * 1000 for _ in range(SAMPLES)]
        return round(p95(samples), 1)
    session = requests.Session()
    session.headers["Authorization"] = f"Bearer {token}"
    session.get(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT_SECONDS)  # warm
    samples = []
    for _ in range(SAMPLES):
        started = time.perf_counter()
        session.get(f"http://127.0.0.1:{port}{path}", timeout=TIMEOUT_SECONDS).raise_for_status()
        samples.append((time.perf_counter() - started) * 1000)
    return round(p95(samples), 1)


def run(quick: bool) -> dict[str, Any]:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (max(soft, min(hard, 65536)), hard))
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    listing = "/job-logs?page_size=20"
    with scratch_database() as database_url, api_process(database_url) as port:
        owner, token = _token(database_url)
        idle = {path: _p95(port, path, token) for path in ("/healthz", listing)}
        streams = _Streams(port, token, STREAMS)
        try:
            time.sleep(1)  # every stream connected and idle
            loaded = {path: _p95(port, path, token) for path in ("/healthz", listing)}
            client = redis.Redis.from_url(bench_redis_url())
            fan_out = streams.fan_out_ms(client, owner)
        finally:
            streams.close()
    figures["stream_clients"] = STREAMS
    figures["stream_healthz_idle_p95_ms"] = idle["/healthz"]
    figures["stream_healthz_p95_ms"] = loaded["/healthz"]
    figures["stream_list_idle_p95_ms"] = idle[listing]
    figures["stream_list_p95_ms"] = loaded[listing]
    figures["stream_fanout_ms"] = round(fan_out, 1) if fan_out is not None else None
    slower = f"< {TARGET_SLOWDOWN:g}x idle"
    rows.append(
        [f"stream_healthz_p95_ms ({STREAMS} open streams)", loaded["/healthz"], idle["/healthz"], slower]
    )
    rows.append([f"stream_list_p95_ms ({STREAMS} open streams)", loaded[listing], idle[listing], slower])
    shown = (
        figures["stream_fanout_ms"] if fan_out is not None else f"not all within {FANOUT_TIMEOUT_SECONDS:g} s"
    )
    rows.append([f"stream_fanout_ms (one event to {STREAMS} streams)", shown, "", f"< {TARGET_FANOUT_MS}"])
    return {"rows": rows, "json": figures}


if __name__ == "__main__":
    os.environ.setdefault("NETRAVEN_BENCH_REDIS_DB", "9")
    print(run(quick=True))
