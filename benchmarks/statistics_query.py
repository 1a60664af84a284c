"""Benchmark: the statistics endpoint's SQL over many job logs, against a plain range scan.

Fills a scratch PostgreSQL database with N job-log rows spread over 60 days (4 job types,
500 devices, 10 owners), then times ``compute_statistics`` for the windows the API serves and,
in the same run, the cheapest query over the same rows (count + avg over the window) as the
baseline. Reports medians and the ratio to that baseline.

    .venv/bin/python benchmarks/statistics_query.py [--rows 1000000] [--repeat 5]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.orm import Session

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from netraven_tasks.migrate import upgrade  # noqa: E402
from netraven_tasks.models import utcnow  # noqa: E402
from netraven_tasks.statistics import compute_statistics, make_window  # noqa: E402

PG_ADMIN = "postgresql+psycopg2://postgres@127.0.0.1:5432/postgres"

FILL = """
INSERT INTO users (username, email, password_hash, is_admin, active)
SELECT 'user' || i, 'user' || i || '@example.net', NULL, false, true FROM generate_series(1, 10) i;
INSERT INTO job_logs (task_id, job_type, device, owner_id, status, attempts, celery_retries,
                      queued_at, started_at, finished_at, duration_seconds, updated_at)
SELECT 'bench-' || i,
       (ARRAY['reachability_check', 'config_backup', 'compliance_run', 'ping_sweep'])[1 + i % 4],
       'device-' || (i % 500),
       1 + i % 10,
       CASE WHEN i % 20 = 0 THEN 'failed' WHEN i % 97 = 0 THEN 'canceled' ELSE 'completed' END,
       1 + (i % 7 = 0)::int, (i % 7 = 0)::int,
       q, q + interval '1 second', q + interval '1 second' + d * interval '1 second', d, q
FROM (SELECT i, now() - random() * interval '60 days' AS q, random() * random() * 120 AS d
      FROM generate_series(1, :rows) i) spread;
ANALYZE job_logs;
"""


def timed(repeat: int, run: Callable[[], object]) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        samples.append(time.perf_counter() - start)
    return statistics.median(samples) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()

    name = f"netraven_statbench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(PG_ADMIN, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.engine.make_url(PG_ADMIN).set(database=name).render_as_string(hide_password=False)
    engine = sa.create_engine(url)
    try:
        upgrade(url)
        started = time.perf_counter()
        with engine.begin() as connection:
            for statement in FILL.strip().split(";\n"):
                if statement.strip():
                    connection.execute(sa.text(statement), {"rows": args.rows})
        print(f"{args.rows} job logs over 60 days inserted in {time.perf_counter() - started:.1f} s")

        now = utcnow()
        with Session(engine) as session:

            def baseline(days: int) -> Callable[[], object]:
                query = sa.text(
                    "SELECT count(*), avg(duration_seconds) FROM job_logs "
                    "WHERE queued_at >= :since AND queued_at < :until"
                )
                window = {"since": now - timedelta(days=days), "until": now}
                return lambda: session.execute(query, window).one()

            cases = [
                ("day, all owners", 1, {"time_period": "day"}),
                ("week, all owners", 7, {"time_period": "week"}),
                ("month, all owners", 30, {"time_period": "month"}),
                ("month, one owner", 30, {"time_period": "month", "owner_id": 3}),
                ("month, one device", 30, {"time_period": "month", "device": "device-42"}),
            ]
            print(f"{'window':<20} {'baseline ms':>12} {'statistics ms':>14} {'ratio':>7}")
            for label, days, options in cases:
                base = timed(args.repeat, baseline(days))
                window = make_window(now, **options)
                stats = timed(args.repeat, lambda w=window: compute_statistics(session, w))
                print(f"{label:<20} {base:>12.1f} {stats:>14.1f} {stats / base:>6.1f}x")
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


if __name__ == "__main__":
    main()
