"""The API served as ``netraven-tasks api`` serves it, on a free loopback port, for tests."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from tests.conftest import ROOT, TEST_ENV, free_port, stop_process, until_ready


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=5) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return conn.recv(12).startswith(b"HTTP/1.1")
    except OSError:
        return False


@contextmanager
def serving_api(log_path: Path, workers: int = 1, env: dict[str, str] | None = None) -> Iterator[int]:
    """Run the API with the test settings (plus ``env``); yield its port once it answers."""
    port = free_port()
    command = [sys.executable, "-m", "netraven_tasks.cli", "api", "--host", "127.0.0.1"]
    command += ["--port", str(port), "--workers", str(workers)]
    with log_path.open("ab") as log:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env={**os.environ, **TEST_ENV, **(env or {})},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        until_ready(process, lambda: _answers(port), "the API", lambda: log_path.read_text(errors="replace"))
        yield port
    finally:
        stop_process(process)
