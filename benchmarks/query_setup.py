"""Set-up of the queries benchmark: its own PostgreSQL database and Redis db, data made by
``generate_series`` in chunks (with a progress bar), and the real API and worker processes."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import redis
import requests
import sqlalchemy as sa
from tqdm import tqdm

from benchmarks.scratch import ROOT, bench_redis_url, scratch_database, start_worker, stop

CHUNK = 250_000
DEVICES = 10_000
JOB_OWNERS = 20  # schedules launch the checks: a handful of owners own most runs
SPAN_DAYS = 60

# Hourly checks of 10,000 devices: mostly completed; 2 % of the devices are down and fail most of
# their checks, the others fail rarely. Durations are log-uniform from 0.05 s to a minute; a row was
# last written (updated_at) when its run finished.
FILL = """
INSERT INTO job_logs (task_id, job_type, device, owner_id, status, attempts, celery_retries,
                      queued_at, started_at, finished_at, duration_seconds, updated_at)
SELECT :prefix || i,
       CASE WHEN i % 5 = 0 THEN 'config_backup' ELSE 'reachability_check' END,
       'dev-' || lpad((i % :devices)::text, 5, '0'),
       1 + i % :owners,
       CASE WHEN (i % :devices) % 50 = 0 AND r < 0.6 THEN 'failed'
            WHEN r < 0.002 THEN 'failed' WHEN r > 0.997 THEN 'canceled' ELSE 'completed' END,
       CASE WHEN r < 0.05 THEN 2 ELSE 1 END, CASE WHEN r < 0.05 THEN 1 ELSE 0 END,
       q, q + interval '1 second', q + (1 + d) * interval '1 second', d, q + (1 + d) * interval '1 second'
FROM (SELECT i, random() AS r, :newest - random() * :span * interval '1 day' AS q,
             exp(random() * 7.1 - 3.0) AS d
      FROM generate_series(:first, :last) i) spread
"""
ACTIVE_FILL = """
INSERT INTO job_logs (task_id, job_type, device, owner_id, status, attempts, celery_retries, queued_at,
                      started_at, updated_at)
SELECT 'active-' || i, 'reachability_check', 'dev-' || lpad((i * 7 % :devices)::text, 5, '0'),
       1 + i % :owners, (ARRAY['queued', 'running', 'retrying'])[1 + i % 3], 1, 0,
       now() - random() * interval '10 minutes', CASE WHEN i % 3 = 1 THEN now() END, now()
FROM generate_series(1, :count) i
"""
USERS = """
INSERT INTO users (username, email, password_hash, is_admin, active, notification_preferences)
SELECT 'user' || i, 'user' || i || '@example.test', NULL, false, true,
       '{"email_notifications": true, "email_on_job_completion": true, "email_on_job_failure": true,
         "notification_frequency": "hourly"}'
FROM generate_series(1, :count) i
"""


@dataclass
class BenchDatabase:
    url: str
    engine: sa.Engine

    def fill(self, first: int, last: int, prefix: str, newest_hours_ago: float = 1.0,
             span_days: float = SPAN_DAYS) -> None:  # fmt: skip
        """Rows ``first..last`` (job logs), in chunks, with a progress bar."""
        with tqdm(
            total=last - first + 1, unit="rows", unit_scale=True, desc="job logs", file=sys.stderr
        ) as bar:
            for low in range(first, last + 1, CHUNK):
                high = min(low + CHUNK - 1, last)
                with self.engine.begin() as connection:
                    connection.execute(
                        sa.text(FILL.replace(":newest", f"now() - interval '{newest_hours_ago} hours'")),
                        {"prefix": prefix, "devices": DEVICES, "owners": JOB_OWNERS, "span": span_days,
                         "first": low, "last": high},
                    )  # fmt: skip
                bar.update(high - low + 1)
        self.analyze()

    def analyze(self) -> None:
        with self.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            connection.execute(sa.text("VACUUM ANALYZE"))

    def execute(self, statement: str, **params: object) -> None:
        with self.engine.begin() as connection:
            connection.execute(sa.text(statement), params)


@contextmanager
def bench_database() -> Iterator[BenchDatabase]:
    """A migrated scratch database, dropped afterwards whatever happens."""
    from netraven_tasks.db import make_engine

    with scratch_database() as url:
        engine = make_engine(url)
        try:
            yield BenchDatabase(url, engine)
        finally:
            engine.dispose()


def free_port() -> int:
    import socket

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Services:
    """The API (gunicorn, 2 workers) and, on demand, a worker, on the benchmark's database and Redis db."""

    env: dict[str, str]
    base_url: str
    processes: list[subprocess.Popen[bytes]]
    var_dir: Path

    def start_worker(self) -> None:
        log = (self.var_dir / "worker.log").open("ab")
        self.processes.append(start_worker(self.env, log, "bench"))
        time.sleep(6)  # the worker and its recorder start; the visibility samples wait for "running" anyway


@contextmanager
def services(database_url: str, smtp_url: str | None = None) -> Iterator[Services]:
    var_dir = Path(tempfile.mkdtemp(prefix="netraven-bench-"))
    broker = bench_redis_url()
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "NETRAVEN_DATABASE_URL": database_url,
        "NETRAVEN_BROKER_URL": broker,
        "NETRAVEN_VAR_DIR": str(var_dir),
        "NETRAVEN_SECRET_KEY": "bench-secret-key-0123456789abcdef",
        "NETRAVEN_JOB_MODULES": "benchmarks.query_jobs",
        "NETRAVEN_SMTP_URL": smtp_url or "",
    }
    port = free_port()
    api = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "--bind", f"127.0.0.1:{port}", "--workers", "2",
         "api:create_app()"],
        cwd=ROOT, env=env, stdout=(var_dir / "api.log").open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip
    running = Services(env, f"http://127.0.0.1:{port}", [api], var_dir)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(f"{running.base_url}/healthz", timeout=10).status_code < 500:
                    break
            except requests.RequestException:  # not listening yet, or still booting
                pass
            if time.monotonic() > deadline or api.poll() is not None:
                raise RuntimeError(f"the API did not start: see {var_dir / 'api.log'}")
            time.sleep(0.2)
        yield running
    finally:
        stop(running.processes)
        redis.Redis.from_url(broker).flushdb()
        shutil.rmtree(var_dir, ignore_errors=True)
