"""What every benchmark runs beside: a scratch PostgreSQL database, an empty Redis db, and
Celery workers started and stopped the same way.

Two knobs, like tests/conftest.py's: ``NETRAVEN_BENCH_PG_ADMIN_URL`` (a server where databases
may be created) and ``NETRAVEN_BENCH_REDIS_DB`` (default: the first empty db of 15, 14, 13, 12).
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from pathlib import Path
from typing import IO

import redis
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = os.environ.get(
    "NETRAVEN_BENCH_PG_ADMIN_URL", "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"
)
REDIS_DB = os.environ.get("NETRAVEN_BENCH_REDIS_DB")
STOP_SECONDS = 30


@contextmanager
def scratch_database() -> Iterator[str]:
    """The URL of a new, migrated database, dropped afterwards whatever happens."""
    from netraven_tasks.db import dispose_engines
    from netraven_tasks.migrate import upgrade

    name = f"netraven_bench_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        upgrade(url)
        yield url
    finally:
        dispose_engines()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@lru_cache(maxsize=1)
def bench_redis_url() -> str:
    """A Redis db nobody uses right now, chosen once per run: the benchmark's queues and streams
    must not be shared, and each part empties it when done, so it never takes one that holds
    something."""
    if REDIS_DB:
        return f"redis://127.0.0.1:6379/{int(REDIS_DB)}"
    for db in (15, 14, 13, 12):
        with redis.Redis(host="127.0.0.1", port=6379, db=db) as client:
            if client.dbsize() == 0:
                return f"redis://127.0.0.1:6379/{db}"
    raise RuntimeError("no empty Redis db among 12-15: set NETRAVEN_BENCH_REDIS_DB to one")


def start_worker(env: dict[str, str], log: IO[bytes], name: str) -> subprocess.Popen[bytes]:
    """One prefork worker with two children, as the benchmarks measure it (no gossip, no mingle)."""
    args = [sys.executable, "-m", "celery", "-A", "netraven_tasks", "worker", "--pool", "prefork",
            "--concurrency", "2", "--loglevel", "warning", "--without-gossip", "--without-mingle",
            "-n", f"{name}-{uuid.uuid4().hex[:6]}@%h"]  # fmt: skip
    return subprocess.Popen(args, env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT)


def stop(processes: Sequence[subprocess.Popen[bytes] | None]) -> None:
    """SIGTERM each, then wait; one that ignores it for STOP_SECONDS is killed (and said so)."""
    running = [process for process in processes if process is not None]
    for process in running:
        process.terminate()
    for process in running:
        try:
            process.wait(STOP_SECONDS)
        except subprocess.TimeoutExpired:
            print(f"{process.args!r} ignored SIGTERM for {STOP_SECONDS} s; killed", file=sys.stderr)
            process.kill()
            process.wait()
