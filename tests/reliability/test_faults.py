"""Faults under load with real processes: the recorder's database cut for 30 s, SIGTERM after a flood."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import (
    ROOT,
    SPARE_REDIS_URL,
    TEST_DB_URL,
    TEST_ENV,
    WorkerProcess,
    eventually,
    free_port,
    start_worker,
)
from tests.support.redis_server import start_redis_server
from tests.support.tcp_proxy import TcpProxy

pytestmark = [pytest.mark.slow, pytest.mark.usefixtures("clean_db")]

FLOOD = 500
TERMINAL = sa.text("SELECT count(*) FROM job_logs WHERE status IN ('completed', 'failed')")


def flood(count: int, env: dict[str, str]) -> None:
    """``count`` reachability checks (to a closed port: they fail at once), launched as the API does."""
    code = (
        "import netraven_tasks.celery_app\n"
        "from netraven_tasks.jobs.launch import launch_job\n"
        "from netraven_tasks.settings import get_settings\n"
        f"for _ in range({count}):\n"
        "    launch_job(get_settings(), 'reachability_check', {'host': '127.0.0.1', 'port': 1}, None)\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)


@contextmanager
def worker_on(
    broker: str, name: str, tmp_path: Path, args: list[str] | None = None, **extra: str
) -> Iterator[WorkerProcess]:
    """A worker of this test's own on ``broker`` (with more ``args`` and ``extra`` settings);
    stopped at the end."""
    original = dict(TEST_ENV)
    TEST_ENV.update(NETRAVEN_BROKER_URL=broker, **extra)  # start_worker passes TEST_ENV on
    try:
        worker = start_worker(name, tmp_path / f"{name}.log", args)
    finally:
        TEST_ENV.clear()
        TEST_ENV.update(original)
    try:
        yield worker
    finally:
        worker.process.send_signal(signal.SIGTERM)
        try:
            worker.process.wait(60)
        except subprocess.TimeoutExpired:
            worker.process.kill()
            worker.process.wait()


def wait_terminal(engine: sa.Engine, count: int, timeout: float) -> int:
    """How many runs are finished, once at least ``count`` are."""

    def done() -> int:
        with engine.connect() as connection:
            return int(connection.execute(TERMINAL).scalar_one())

    eventually(
        lambda: done() >= count, timeout, lambda: f"{count} finished runs, {done()} so far", interval=0.2
    )
    return done()


def test_database_blocked_30s_mid_run_loses_no_row(tmp_path: Path, settings, spare_redis):
    env = {**os.environ, **TEST_ENV, "NETRAVEN_BROKER_URL": SPARE_REDIS_URL}
    flood(200, env)  # the queued rows go straight to the database
    url = sa.engine.make_url(TEST_DB_URL)
    proxy = TcpProxy(url.port or 5432).start()
    # The worker (and its recorder) reach PostgreSQL only through the proxy the test controls.
    proxied = url.set(port=proxy.port).render_as_string(hide_password=False)
    engine = sa.create_engine(TEST_DB_URL)
    try:
        with worker_on(SPARE_REDIS_URL, "outage", tmp_path, NETRAVEN_DATABASE_URL=proxied):
            assert wait_terminal(engine, 20, 60) >= 20
            proxy.block()
            time.sleep(30)
            proxy.unblock()
            assert wait_terminal(engine, 200, 90) == 200, "every run is recorded once the database is back"
        with engine.connect() as connection:
            attempts = connection.execute(sa.text("SELECT attempts, count(*) FROM job_logs GROUP BY 1")).all()
        assert attempts == [(1, 200)], "no event written twice"
    finally:
        proxy.stop()
        engine.dispose()


def test_worker_stops_promptly_on_sigterm_after_a_flood(tmp_path: Path, settings, spare_redis):
    env = {**os.environ, **TEST_ENV, "NETRAVEN_BROKER_URL": SPARE_REDIS_URL}
    # 500 runs: minutes of CI less than 2,000, and still every pool child and the recorder busy
    # for many batches (it is the idle stop after such a burst that must be prompt).
    flood(FLOOD, env)
    engine = sa.create_engine(TEST_DB_URL)
    try:
        with worker_on(SPARE_REDIS_URL, "flood", tmp_path) as worker:
            assert wait_terminal(engine, FLOOD, 85) == FLOOD
            started = time.monotonic()
            worker.process.send_signal(signal.SIGTERM)
            worker.process.wait(60)
            took = time.monotonic() - started
    finally:
        engine.dispose()
    assert took < 10, f"the idle worker took {took:.1f}s to stop after SIGTERM"


def _is_recorder(pid: int) -> bool:
    """Whether ``pid`` is the worker's recorder (False for a child that died since it was listed)."""
    try:
        return b"recorder" in Path(f"/proc/{pid}/cmdline").read_bytes()
    except FileNotFoundError:
        return False


def test_sigkill_a_child_20_times_under_200_jobs_loses_and_duplicates_nothing(
    tmp_path: Path, settings, spare_redis
):
    import random

    from netraven_tasks.notifications.models import OutboxMessage
    from netraven_tasks.users import create_user

    engine = sa.create_engine(TEST_DB_URL)
    with sa.orm.Session(engine) as session, session.begin():
        owner = create_user(session, "killed-jobs-owner", "owner@example.test").id
    env = {**os.environ, **TEST_ENV, "NETRAVEN_BROKER_URL": SPARE_REDIS_URL}
    code = (
        "import netraven_tasks.celery_app\n"
        "from netraven_tasks.jobs.launch import launch_job\n"
        "from netraven_tasks.settings import get_settings\n"
        f"for _ in range(200): launch_job(get_settings(), 'test_nap', {{'seconds': 0.2}}, {owner})\n"
    )
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True, capture_output=True)
    kills = 0
    try:
        with worker_on(SPARE_REDIS_URL, "killed", tmp_path) as worker:
            while kills < 20:
                time.sleep(0.4)
                children = [pid for pid in worker.child_pids() if not _is_recorder(pid)]
                if children:
                    os.kill(random.choice(children), signal.SIGKILL)
                    kills += 1
            assert wait_terminal(engine, 200, 85) == 200, "every job terminal, none lost"
        with engine.connect() as connection:
            jobs = connection.execute(sa.text("SELECT count(*) FROM job_logs")).scalar_one()
            outbox = connection.execute(
                sa.select(OutboxMessage.job_log_id, sa.func.count()).group_by(OutboxMessage.job_log_id)
            ).all()
    finally:
        engine.dispose()
    assert jobs == 200
    assert len(outbox) == 200 and {n for _, n in outbox} == {1}, "one notification per job, none twice"


@pytest.mark.skipif(not shutil.which("redis-server"), reason="needs redis-server")
def test_workers_reconnect_after_redis_restarts(tmp_path: Path, settings):
    port = free_port()
    server = start_redis_server(port, tmp_path)
    broker = f"redis://127.0.0.1:{port}/0"
    env = {**os.environ, **TEST_ENV, "NETRAVEN_BROKER_URL": broker}
    engine = sa.create_engine(TEST_DB_URL)
    try:
        with worker_on(broker, "restart", tmp_path):
            flood(20, env)
            assert wait_terminal(engine, 20, 30) == 20
            server.terminate()  # appendonly: what was acknowledged survives the restart
            server.wait(10)
            time.sleep(2)
            server = start_redis_server(port, tmp_path)
            restarted = time.monotonic()
            flood(20, env)
            assert wait_terminal(engine, 40, 30) == 40, "jobs queued after the restart run"
            assert time.monotonic() - restarted < 30
    finally:
        server.terminate()
        server.wait(10)
        engine.dispose()
