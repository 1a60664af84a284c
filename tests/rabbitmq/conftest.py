"""RabbitMQ as the broker, for real: a virtual host of this session's own on the RabbitMQ that runs
on 127.0.0.1:5672 (scripts/test starts it when it is installed and stopped), a worker and an API
server whose broker is ``amqp://``, and the session's spare Redis db as ``NETRAVEN_REDIS_URL``
(tracking stream, live feed, leases, locks). Without RabbitMQ the tests are skipped, except under
``CI=true``, where that is a failure."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
import redis

from tests.conftest import SPARE_REDIS_URL, TEST_DB_NAME, WorkerProcess, start_worker, stop_process
from tests.support.api_server import serving_api

RABBIT_PORT = 5672
VHOST = f"netraven-{TEST_DB_NAME}"


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=2):
            return True
    except OSError:
        return False


def _rabbitmqctl(*args: str) -> None:
    subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)


@pytest.fixture(scope="session")
def rabbit_vhost() -> Iterator[str]:
    """This session's virtual host (its own queues), removed at the end."""
    if shutil.which("rabbitmqctl") is None or not _answers(RABBIT_PORT):
        reason = "RabbitMQ is not running on 127.0.0.1:5672 (scripts/test starts it when installed)"
        if os.environ.get("CI") == "true":
            pytest.fail(reason)
        pytest.skip(reason)
    _rabbitmqctl("add_vhost", VHOST)
    _rabbitmqctl("set_permissions", "-p", VHOST, "guest", ".*", ".*", ".*")
    yield VHOST
    _rabbitmqctl("delete_vhost", VHOST)


@dataclass(frozen=True)
class Rabbit:
    env: dict[str, str]
    worker: WorkerProcess
    api_url: str


@pytest.fixture(scope="module")
def rabbit(rabbit_vhost, database_url, tmp_path_factory) -> Iterator[Rabbit]:  # type: ignore[no-untyped-def]
    redis.Redis.from_url(SPARE_REDIS_URL).flushdb()  # no other fixture uses it while this one lives
    env = {
        "NETRAVEN_BROKER_URL": f"amqp://guest:guest@127.0.0.1:{RABBIT_PORT}/{rabbit_vhost}",
        "NETRAVEN_REDIS_URL": SPARE_REDIS_URL,
    }
    logs = tmp_path_factory.mktemp("rabbit")
    worker = start_worker("rabbit", logs / "worker.log", env=env)
    try:
        with serving_api(logs / "api.log", env=env) as port:
            yield Rabbit(env, worker, f"http://127.0.0.1:{port}")
    finally:
        stop_process(worker.process)
        redis.Redis.from_url(SPARE_REDIS_URL).flushdb()
