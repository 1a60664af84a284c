"""Slow clients against the real API server (``netraven-tasks api``): the ``/healthz`` p95 while
hundreds of connections trickle their headers or their bodies, beside the idle p95 of the same run.

A slow connection the server closes (its read deadline) is opened again at once, as an attacker
would: the load stays at the stated number of connections for the whole measurement.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import requests

from benchmarks.queries import p95
from benchmarks.query_setup import free_port
from benchmarks.scratch import ROOT, bench_redis_url, scratch_database, stop

CONNECTIONS = (70, 500)  # the 70, and the target's 500
SAMPLES = 40
TIMEOUT_SECONDS = 5.0  # a /healthz slower than this counts as this (the old setup timed out)
TRICKLE_SECONDS = 2.0  # one header line (or body byte) per connection this often
TARGET_P95_MS = 100
BENCH_SECRET_KEY = "bench-secret-key-0123456789abcdef"  # noqa: S105 - a scratch server's


@contextmanager
def api_process(database_url: str, env_extra: dict[str, str] | None = None) -> Iterator[int]:
    """``netraven-tasks api`` (2 workers, as ``up`` runs it) on a free port; its port once it answers."""
    var_dir = tempfile.mkdtemp(prefix="netraven-bench-slow-")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NETRAVEN_DATABASE_URL": database_url,
        "NETRAVEN_BROKER_URL": bench_redis_url(),
        "NETRAVEN_VAR_DIR": var_dir,
        "NETRAVEN_SECRET_KEY": BENCH_SECRET_KEY,
        **(env_extra or {}),
    }
    port = free_port()
    command = [sys.executable, "-m", "netraven_tasks.cli", "api", "--port", str(port), "--workers", "2"]
    log = open(os.path.join(var_dir, "api.log"), "ab")  # noqa: SIM115 - the server's, closed with it
    api = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while not healthz_ms(port):
            if time.monotonic() > deadline or api.poll() is not None:
                raise RuntimeError(f"the API did not start: see {var_dir}/api.log")
            time.sleep(0.2)
        yield port
    finally:
        stop([api])
        log.close()


def healthz_ms(port: int) -> float | None:
    started = time.perf_counter()
    try:
        requests.get(f"http://127.0.0.1:{port}/healthz", timeout=TIMEOUT_SECONDS)
    except requests.Timeout:
        return TIMEOUT_SECONDS * 1000
    except requests.ConnectionError:
        return None
    return (time.perf_counter() - started) * 1000


class _SlowClients:
    """``count`` connections, half trickling a header line, half a body byte, every 2 s."""

    def __init__(self, port: int, count: int) -> None:
        self.port = port
        self.slots: list[socket.socket | None] = [None] * count
        self.stop = threading.Event()
        for i in range(count):
            self._open(i)
        self.thread = threading.Thread(target=self._trickle, daemon=True)
        self.thread.start()

    def _open(self, i: int) -> None:
        try:
            conn = socket.create_connection(("127.0.0.1", self.port), timeout=TIMEOUT_SECONDS)
            if i % 2:
                conn.sendall(b"POST /auth/token HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                             b"Content-Length: 100000\r\n\r\n{")  # fmt: skip
            else:
                conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
            conn.setblocking(False)
            self.slots[i] = conn
        except OSError:
            self.slots[i] = None  # opened again on the next round

    def _trickle(self) -> None:
        while not self.stop.wait(TRICKLE_SECONDS):
            for i, conn in enumerate(self.slots):
                try:
                    if conn is None:
                        raise OSError
                    conn.send(b" " if i % 2 else b"X-Slow: 1\r\n")
                except OSError:  # closed by the server's deadline: come back
                    if conn is not None:
                        conn.close()
                    self._open(i)

    def close(self) -> None:
        self.stop.set()
        self.thread.join()
        for conn in self.slots:
            if conn is not None:
                conn.close()


def _p95_ms(port: int) -> float:
    samples = [healthz_ms(port) or TIMEOUT_SECONDS * 1000 for _ in range(SAMPLES)]
    return round(p95(samples), 1)


def run(quick: bool) -> dict[str, Any]:
    rows: list[list[Any]] = []
    figures: dict[str, Any] = {}
    with scratch_database() as database_url, api_process(database_url) as port:
        idle = _p95_ms(port)
        figures["healthz_idle_p95_ms"] = idle
        rows.append(["healthz_idle_p95_ms", idle, "", ""])
        for count in CONNECTIONS:
            slow = _SlowClients(port, count)
            try:
                time.sleep(TRICKLE_SECONDS)  # every connection has started trickling
                measured = _p95_ms(port)
            finally:
                slow.close()
            rows.append([f"slow_clients_healthz_p95_ms ({count} slow connections)", measured, idle,
                         f"< {TARGET_P95_MS}"])  # fmt: skip
            figures[f"slow_clients_{count}_healthz_p95_ms"] = measured
        figures["slow_clients"] = CONNECTIONS[-1]
        figures["slow_clients_healthz_p95_ms"] = figures[f"slow_clients_{CONNECTIONS[-1]}_healthz_p95_ms"]
    return {"rows": rows, "json": figures}
