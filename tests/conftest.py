"""Session fixtures: a fresh PostgreSQL database migrated by Alembic, a Redis db, one real worker.

The environment is set here, at import, before any test imports the Celery app: the settings
object is read once per process, exactly as in production.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "NETRAVEN_TEST_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
# pytest-xdist (scripts/test runs two workers): each worker process is a session of its own, with
# its own database (TEST_DB_NAME) and Redis db pair: gw0 takes NETRAVEN_TEST_REDIS_DB and its spare,
# gw1 the db below, and so on; a run without xdist is gw0.
XDIST_INDEX = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
REDIS_DB = (int(os.environ.get("NETRAVEN_TEST_REDIS_DB", "11")) - XDIST_INDEX) % 16
TEST_DB_NAME = f"netraven_test_{uuid.uuid4().hex[:10]}"
TEST_DB_URL = (
    sa.engine.make_url(PG_ADMIN_URL).set(database=TEST_DB_NAME).render_as_string(hide_password=False)
)
REDIS_URL = f"redis://127.0.0.1:6379/{REDIS_DB}"
# A second Redis db for tests that run a recorder apart from the session worker's.
SPARE_REDIS_URL = f"redis://127.0.0.1:6379/{(REDIS_DB + 8) % 16}"
VAR_DIR = Path(os.environ.get("NETRAVEN_TEST_VAR_DIR", "/tmp")) / f"netraven-test-{TEST_DB_NAME}"
# security: the only folder the file backup driver may read in tests (tests write configs there).
BACKUP_ROOT = VAR_DIR / "device-configs"
# Compliance: the rules file of every process of the session (none yet); the settings read it, so it
# exists before them. tests/jobs/test_compliance_check.py replaces it: the job reads a changed file.
COMPLIANCE_RULES_FILE = VAR_DIR / "compliance-rules.yaml"
VAR_DIR.mkdir(parents=True, exist_ok=True)
COMPLIANCE_RULES_FILE.write_text("[]\n")


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# Notifications: the worker mails a real SMTP server (tests/notifications/smtp_server.py) on this port.
SMTP_PORT = free_port()
# Schedules: the worker sends SMS to a Twilio-compatible API on this port (tests/schedules/sms_api.py).
SMS_PORT = free_port()
# Routes: the worker pages PagerDuty and Opsgenie lookalikes on these ports (tests/routes/oncall_apis.py).
PAGERDUTY_PORT = free_port()
OPSGENIE_PORT = free_port()

TEST_ENV = {
    "NETRAVEN_DATABASE_URL": TEST_DB_URL,
    "NETRAVEN_BROKER_URL": REDIS_URL,
    "NETRAVEN_VAR_DIR": str(VAR_DIR),
    "NETRAVEN_SECRET_KEY": "test-secret-key-0123456789abcdef",
    "NETRAVEN_JOB_MODULES": "tests.support.jobs",
    "NETRAVEN_ALLOW_PRIVATE_WEBHOOKS": "1",
    "NETRAVEN_MAILDIR": str(VAR_DIR / "maildir"),
    "NETRAVEN_SMTP_URL": f"smtp://127.0.0.1:{SMTP_PORT}?timeout=10",  # notifications
    "NETRAVEN_BACKUP_FILE_ROOTS": str(BACKUP_ROOT),  # security
    "NETRAVEN_COMPLIANCE_RULES_FILE": str(COMPLIANCE_RULES_FILE),
    # security: the session's many test sign-ins come from one address; tests/security sets tight limits
    "NETRAVEN_LOGIN_RATE_LIMIT": "1000 per minute",
    "NETRAVEN_LOGIN_ADDRESS_RATE_LIMIT": "1000 per minute",
    # access: user ids restart each test, so launch counters carry over; tests/api/test_quotas tightens it
    "NETRAVEN_LAUNCH_RATE_LIMIT": "100000 per minute",
    # Per-device limits: tests launch many runs on one host and expect them to run side by side;
    # tests/jobs/test_device_limits.py runs workers of its own with the limit under test.
    "NETRAVEN_DEVICE_CONCURRENCY": "1000",
    # Schedules: seconds instead of minutes, so beat tests see several slots quickly.
    "NETRAVEN_SCHEDULE_MIN_INTERVAL_SECONDS": "1",
    "NETRAVEN_SCHEDULE_CHECK_SECONDS": "0.5",
    "NETRAVEN_BEAT_LOCK_TTL_SECONDS": "3",
    # Not the 24-hour default, so a path that ignores the setting shows (tests/schedules/test_alerts.py).
    "NETRAVEN_REPEAT_ALERT_HOURS": "3",
    "NETRAVEN_SMS_URL": f"http://127.0.0.1:{SMS_PORT}/2010-04-01",
    "NETRAVEN_SMS_ACCOUNT_SID": "ACtest0123456789",
    "NETRAVEN_SMS_AUTH_TOKEN": "sms-test-token",
    "NETRAVEN_SMS_FROM": "+15005550006",
    "NETRAVEN_PAGERDUTY_URL": f"http://127.0.0.1:{PAGERDUTY_PORT}/v2/enqueue",
    "NETRAVEN_OPSGENIE_URL": f"http://127.0.0.1:{OPSGENIE_PORT}/v2/alerts",
}
os.environ.update(TEST_ENV)


# Fixtures that need a server (PostgreSQL, Redis) or start processes; a test using none of them,
# outside the folders that start processes, is a `unit` test: `scripts/test --fast` runs those.
SERVER_FIXTURES = frozenset(
    {
        *("database_url", "redis_client", "spare_redis", "settings", "db_session", "clean_db"),
        *("worker", "smtp_server", "mail", "empty_postgres", "empty_database"),
    }
)
PROCESS_FOLDERS = frozenset({"e2e", "reliability", "ops", "ui"})


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        folder = Path(str(item.path)).relative_to(ROOT / "tests").parts[0]
        fixtures = set(getattr(item, "fixturenames", ()))
        unit = not (fixtures & SERVER_FIXTURES) and folder not in PROCESS_FOLDERS
        item.add_marker(pytest.mark.unit if unit else pytest.mark.integration)


# The servers a unit test must not reach: the session's PostgreSQL and Redis.
_PG = sa.engine.make_url(PG_ADMIN_URL)
SERVER_ADDRESSES = frozenset({(_PG.host or "127.0.0.1", _PG.port or 5432), ("127.0.0.1", 6379)})


class ServerReached(AssertionError):
    """A test marked ``unit`` connected to PostgreSQL or Redis: it belongs to the integration lane."""


@pytest.fixture(autouse=True)
def _unit_tests_reach_no_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every `unit` test, in every run, proves it needs no server: connecting to PostgreSQL
    (psycopg2 connects in C, so its ``connect`` is guarded) or to Redis (a Python socket) fails
    the test with its name. The fast lane therefore passes wherever neither server runs."""
    if request.node.get_closest_marker("unit") is None:
        return
    import psycopg2

    where = request.node.nodeid
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> Any:
        if isinstance(address, tuple) and tuple(address[:2]) in SERVER_ADDRESSES:
            raise ServerReached(f"{where} is marked unit but connects to {address[0]}:{address[1]}")
        return real_connect(self, address)

    def pg_connect(*args: Any, **kwargs: Any) -> Any:
        raise ServerReached(f"{where} is marked unit but connects to PostgreSQL")

    monkeypatch.setattr(socket.socket, "connect", connect)
    monkeypatch.setattr(psycopg2, "connect", pg_connect)


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this session, migrated to head with Alembic."""
    from netraven_tasks.migrate import upgrade

    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{TEST_DB_NAME}"'))
    upgrade(TEST_DB_URL)
    yield TEST_DB_URL
    from netraven_tasks.db import dispose_engines

    dispose_engines()
    with admin.connect() as connection:
        connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{TEST_DB_NAME}" WITH (FORCE)'))
    admin.dispose()


def _empty_redis(url: str) -> Iterator[redis.Redis]:
    """A client of the Redis db at ``url``, emptied before and after its user."""
    client = redis.Redis.from_url(url)
    client.flushdb()
    yield client
    client.flushdb()
    client.close()


@pytest.fixture(scope="session")
def redis_client() -> Iterator[redis.Redis]:
    """The session's Redis db: the broker of the session worker."""
    yield from _empty_redis(REDIS_URL)


@pytest.fixture
def spare_redis() -> Iterator[redis.Redis]:
    """The spare Redis db (SPARE_REDIS_URL), empty: a broker or stream no session process reads."""
    yield from _empty_redis(SPARE_REDIS_URL)


@pytest.fixture(scope="session")
def settings(database_url: str):  # type: ignore[no-untyped-def]
    import netraven_tasks.celery_app  # noqa: F401 - the app and its job types, as in every process
    from netraven_tasks.settings import get_settings

    return get_settings()


@pytest.fixture
def backup_root(request) -> Path:  # type: ignore[no-untyped-def]
    """A folder of this test under the file driver's root (NETRAVEN_BACKUP_FILE_ROOTS)."""
    folder = BACKUP_ROOT / f"{request.node.name[:80]}-{uuid.uuid4().hex[:6]}"
    folder.mkdir(parents=True)
    return folder


@pytest.fixture
def db_session(settings):  # type: ignore[no-untyped-def]
    from netraven_tasks.db import session_factory

    with session_factory(settings)() as session:
        yield session


@pytest.fixture
def clean_db(database_url: str, settings) -> None:  # type: ignore[no-untyped-def]
    """Empty every table (fast: TRUNCATE) so a test sees only its own rows."""
    from netraven_tasks.db import get_engine
    from netraven_tasks.models import Base
    from netraven_tasks.notifications import models as _notification_models  # noqa: F401 - its tables

    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    for attempt in range(5):
        try:
            with get_engine(settings).begin() as connection:
                # Don't queue behind a straggling task of the previous test for long: retry.
                connection.execute(sa.text("SET LOCAL lock_timeout = '2s'"))
                connection.execute(sa.text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            return
        except sa.exc.OperationalError:  # deadlock or lock timeout with a worker write
            if attempt == 4:
                raise
            time.sleep(0.2 * (attempt + 1))


def eventually(
    check: Callable[[], Any],
    timeout: float = 30.0,
    message: str | Callable[[], str] = "condition",
    interval: float = 0.05,
) -> Any:
    """Poll ``check`` until it returns something truthy; return that. The one polling loop of the
    tests: ``message`` (or what it returns, e.g. a log's tail) says what never happened."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {message() if callable(message) else message}")
        time.sleep(interval)


def until_ready(
    process: subprocess.Popen[bytes],
    ready: Callable[[], Any],
    what: str,
    log: Callable[[], str],
    timeout: float = 60,
) -> None:
    """Wait until a started ``process`` is ``ready()``; fail at once, with its log's tail, if it exits
    first. The caller stops the process if this raises."""

    def check() -> Any:
        if process.poll() is not None:
            raise RuntimeError(f"{what} exited with {process.returncode}:\n{log()[-3000:]}")
        return ready()

    eventually(check, timeout, lambda: f"{what} to be ready:\n{log()[-3000:]}", interval=0.2)


class WorkerProcess:
    def __init__(self, process: subprocess.Popen[bytes], log_path: Path, args: list[str]):
        self.process = process
        self.log_path = log_path
        self.args = args

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def child_pids(self) -> list[int]:
        out = subprocess.run(
            ["pgrep", "-P", str(self.process.pid)], capture_output=True, text=True, check=False
        )
        return [int(pid) for pid in out.stdout.split()]


def start_worker(
    name: str, log_path: Path, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> WorkerProcess:
    args = [
        sys.executable, "-m", "celery", "-A", "netraven_tasks", "worker",
        "--loglevel", "info", "--pool", "prefork", "--concurrency", "2",
        "-n", f"{name}@%h", "-E", "--without-gossip", "--without-mingle",
        *(extra or []),
    ]  # fmt: skip
    return WorkerProcess(start_process("worker", args, log_path, "ready.", env), log_path, args)


def start_process(
    what: str, args: list[str], log_path: Path, ready_line: str, env: dict[str, str] | None = None
) -> subprocess.Popen[bytes]:
    """Start ``args`` with the test settings (and ``env`` over them), output to ``log_path``; return
    once the log shows ``ready_line`` (the process is stopped again if it never does)."""

    def log() -> str:
        return log_path.read_text(errors="replace")

    with log_path.open("ab") as log_file:
        process = subprocess.Popen(
            args,
            cwd=ROOT,
            env={**os.environ, **TEST_ENV, **(env or {})},
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    try:
        until_ready(process, lambda: ready_line in log(), what, log)
    except BaseException:
        stop_process(process)
        raise
    return process


def stop_process(process: subprocess.Popen[bytes], timeout: float = 20) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def worker(database_url: str, redis_client: redis.Redis, tmp_path_factory) -> Iterator[WorkerProcess]:  # type: ignore[no-untyped-def]
    """One real Celery worker (prefork, 2 children) for the whole session."""
    log_path = tmp_path_factory.mktemp("worker") / "worker.log"
    process = start_worker("test", log_path)
    yield process
    stop_process(process.process)


@pytest.fixture
def dead_broker(monkeypatch):  # type: ignore[no-untyped-def]
    """The process's Celery app, pointed at a port where no broker listens: every launch and
    cancel of this process meets a broker that is down."""
    from celery import Celery

    from netraven_tasks import celery_app

    app = Celery("netraven_tasks", broker=f"redis://127.0.0.1:{free_port()}/0", set_as_current=False)
    app.conf.broker_connection_timeout = 1
    app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0.1}
    monkeypatch.setattr(celery_app.integration, "app", app)  # what launch_job publishes through
    return app


@pytest.fixture(scope="session")
def smtp_server():  # type: ignore[no-untyped-def]
    """The SMTP server the worker mails (NETRAVEN_SMTP_URL points at its port); here, not in
    tests/notifications/, so every folder that needs it shares the one bound to SMTP_PORT."""
    from tests.notifications.smtp_server import SmtpServer

    server = SmtpServer(SMTP_PORT)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def wait_for_job(settings) -> Callable[..., object]:  # type: ignore[no-untyped-def]
    """Poll a job-log row until its status is one of ``statuses``; returns the row."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog
    from netraven_tasks.statuses import TERMINAL_STATUSES

    sessions = session_factory(settings)

    def wait(job_log_id: int, statuses=TERMINAL_STATUSES, timeout: float = 30.0):  # type: ignore[no-untyped-def]
        wanted = {str(s) for s in statuses}
        seen = ["missing"]

        def arrived() -> JobLog | None:
            with sessions() as session:
                job = session.get(JobLog, job_log_id)
                seen[0] = job.status if job else "missing"
                if job is not None and job.status in wanted:
                    job.entries  # noqa: B018 - load them before the session closes
                    return job
                return None

        def message() -> str:
            return f"job log {job_log_id}: it is {seen[0]}, wanted one of {sorted(wanted)}"

        return eventually(arrived, timeout, message, interval=0.1)

    return wait


@pytest.fixture
def mail(smtp_server):  # type: ignore[no-untyped-def]
    """The SMTP server, running and empty at the start of the test."""
    smtp_server.start()
    smtp_server.handler.reset()
    yield smtp_server
    smtp_server.start()
    smtp_server.handler.reset()
