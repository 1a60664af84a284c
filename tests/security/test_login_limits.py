"""Sign-in limits are counted once for every API process, before the password is checked.

On the embedded default (no Redis) the counters live in a SQLite file under var/: two gunicorn
workers refuse the 11th failed attempt for a limit of 10, not the 19th, even when the guesses
arrive at once; a locked username leaves the other users behind the same address signing in.
"""

from __future__ import annotations

import http.client
import json
import multiprocessing
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from api.rate_limit import LoginLimits, TooManySignIns, address_key
from netraven_tasks.db import get_engine, session_factory
from netraven_tasks.migrate import upgrade
from netraven_tasks.private_files import make_private_dir
from netraven_tasks.settings import Settings
from netraven_tasks.users import create_user
from tests.conftest import ROOT, eventually, free_port, stop_process

LIMIT = 10
PASSWORD = "right-password-1"


@dataclass(frozen=True)
class EmbeddedApi:
    port: int
    log: Path

    def sign_in(self, username: str, password: str) -> int:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        try:
            body = json.dumps({"username": username, "password": password})
            connection.request(
                "POST", "/auth/token", body, {"Content-Type": "application/json", "Connection": "close"}
            )
            return connection.getresponse().status
        finally:
            connection.close()

    def token_pids(self, since: int = 0) -> set[str]:
        """The API workers that answered POST /auth/token after byte ``since`` of the log (each
        access line names its process)."""
        text = self.log.read_bytes()[since:].decode(errors="replace")
        return set(re.findall(r'^pid=(\d+) .*"POST /auth/token ', text, re.MULTILINE))


def embedded_settings(var_dir: Path) -> Settings:
    """The embedded default's settings (SQLite database and broker under ``var_dir``)."""
    return Settings(
        var_dir=var_dir,
        database_url=f"sqlite:///{var_dir}/netraven.db",
        broker_url=f"sqla+sqlite:///{var_dir}/broker.db",
        login_rate_limit=f"{LIMIT} per minute",
        login_address_rate_limit="1000 per minute",
    )


@pytest.fixture(scope="module")
def embedded_api(tmp_path_factory) -> Iterator[EmbeddedApi]:  # type: ignore[no-untyped-def]
    """``netraven-tasks api`` with two workers on the embedded default: SQLite, no Redis."""
    folder = tmp_path_factory.mktemp("login-limits")
    env = {key: value for key, value in os.environ.items() if not key.startswith("NETRAVEN_")}
    env.update(
        NETRAVEN_VAR_DIR=str(folder / "var"),
        NETRAVEN_LOGIN_RATE_LIMIT=f"{LIMIT} per minute",
        NETRAVEN_LOGIN_ADDRESS_RATE_LIMIT="1000 per minute",
    )
    # The schema and two users, written here: three CLI processes would take longer than the test.
    settings = embedded_settings(folder / "var")
    make_private_dir(settings.var_dir)
    upgrade(settings.database_url)
    with session_factory(settings)() as session:
        for name in ("alice", "ops"):
            create_user(session, name, f"{name}@example.net", PASSWORD)
        session.commit()
    get_engine(settings).dispose()
    port = free_port()
    log = folder / "api.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "netraven_tasks.cli", "api", "--port", str(port), "--workers", "2"],
            env=env, cwd=ROOT, stdout=output, stderr=subprocess.STDOUT,
        )  # fmt: skip
    api = EmbeddedApi(port, log)
    try:
        eventually(lambda: log.read_text().count("Booting worker") == 2, 60, lambda: log.read_text()[-2000:])
        eventually(lambda: _answers(api), 60, lambda: log.read_text()[-2000:])
        yield api
    finally:
        stop_process(process)


def _answers(api: EmbeddedApi) -> bool:
    try:
        connection = http.client.HTTPConnection("127.0.0.1", api.port, timeout=5)
        connection.request("GET", "/healthz")
        return connection.getresponse().status in {200, 503}
    except OSError:
        return False


@pytest.mark.slow
def test_the_11th_failed_sign_in_is_refused_across_two_api_workers(embedded_api):
    # All at once: each worker gets some, and none may pass a check made before the others counted.
    # Which worker accepts a connection is the kernel's choice: a burst is repeated (another
    # username each time) until both workers answered one, and every burst must hold.
    for burst in range(5):
        username = "alice" if burst == 0 else f"guess-{burst}"
        since = embedded_api.log.stat().st_size
        with ThreadPoolExecutor(2 * LIMIT) as pool:
            codes = list(pool.map(lambda i: embedded_api.sign_in(username, f"wrong-{i}"), range(2 * LIMIT)))
        assert sorted(codes) == [401] * LIMIT + [429] * LIMIT, (username, codes)
        if len(embedded_api.token_pids(since)) == 2:
            break
    else:
        raise AssertionError("no burst was answered by both workers: " + embedded_api.log.read_text()[-3000:])
    assert embedded_api.sign_in("alice", PASSWORD) == 429  # the username is locked, whatever the password
    # Another user behind the same address (a NAT) still signs in.
    assert embedded_api.sign_in("ops", PASSWORD) == 200


def _reserve_all(var_dir: Path, attempts: int, start: Any, granted: Any) -> None:
    limits = LoginLimits(embedded_settings(var_dir))
    start.wait(30)
    count = 0
    for _ in range(attempts):
        try:
            limits.reserve("ops", "192.0.2.7")
            count += 1
        except TooManySignIns:
            pass
    granted.put(count)


@pytest.mark.slow
def test_two_processes_share_the_counters_on_the_embedded_default(tmp_path):
    # spawn, not fork: forking a test process that runs threads (xdist, servers) can copy a held lock.
    context = multiprocessing.get_context("spawn")
    start, granted = context.Event(), context.Queue()
    processes = [
        context.Process(target=_reserve_all, args=(tmp_path, LIMIT, start, granted)) for _ in range(2)
    ]
    for process in processes:
        process.start()
    start.set()
    counts = [granted.get(timeout=60) for _ in processes]
    for process in processes:
        process.join(10)
    assert sum(counts) == LIMIT, counts


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("192.0.2.7", "192.0.2.7"),
        ("::ffff:192.0.2.7", "192.0.2.7"),
        ("2001:db8:1:2:aaaa::1", "2001:db8:1:2::/64"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::/64"),
        ("", "unknown"),
    ],
)
def test_an_ipv6_client_is_counted_per_64(address, key):
    assert address_key(address) == key


def test_unreachable_counters_are_kept_in_this_process_rather_than_refusing_every_sign_in(tmp_path):
    limits = LoginLimits(
        Settings(
            var_dir=tmp_path,
            broker_url="redis://127.0.0.1:1/0",  # nothing listens there
            login_rate_limit="2 per minute",
            login_address_rate_limit="1000 per minute",
        )
    )
    limits.reserve("ops", "192.0.2.7")
    limits.reserve("ops", "192.0.2.7")
    with pytest.raises(TooManySignIns):
        limits.reserve("ops", "192.0.2.7")
