"""A ``redis-server`` of a test's own on a free loopback port, appendonly, that it can stop and restart."""

from __future__ import annotations

import subprocess
from pathlib import Path

import redis


def start_redis_server(port: int, directory: Path) -> subprocess.Popen[bytes]:
    """Start it (appendonly: what it acknowledged survives a restart); return once it answers."""
    from tests.conftest import eventually

    process = subprocess.Popen(
        ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--dir", str(directory),
         "--appendonly", "yes", "--save", ""],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    client = redis.Redis(port=port)

    def answers() -> bool:
        try:
            return bool(client.ping())
        except redis.ConnectionError:
            return False

    try:
        eventually(answers, 10, "redis-server to start", interval=0.1)
    finally:
        client.close()
    return process
