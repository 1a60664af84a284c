"""Benchmark: what tracking costs a Celery worker, as a ratio to untracked tasks in the same run.

For each mode it publishes N messages with no worker running, starts one prefork worker
(2 children), and measures the worker's throughput between its first and its last task.
Modes: untracked no-op task (baseline); the same with the time limits job types carry; tracked
job with the synchronous recorder; tracked job with the Redis Stream recorder (plus how long
until every row is settled).

    .venv/bin/python benchmarks/tracking_overhead.py [--tasks 2000] [--rounds 2]

Needs PostgreSQL and Redis on 127.0.0.1 (like scripts/test); uses an empty Redis db (15 to 12, or
NETRAVEN_BENCH_REDIS_DB) and a scratch database that it drops afterwards.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis
import sqlalchemy as sa

from benchmarks.scratch import ROOT, bench_redis_url, scratch_database, start_worker, stop


def _env(
    db_url: str, tracking: str, var_dir: Path, redis_url: str, broker_url: str | None = None
) -> dict[str, str]:
    """The bench processes' settings: Redis as the broker, or ``broker_url`` (RabbitMQ) with
    ``redis_url`` beside it as NETRAVEN_REDIS_URL."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRAVEN_")}
    if broker_url is not None:
        env["NETRAVEN_REDIS_URL"] = redis_url
    env.update(
        NETRAVEN_DATABASE_URL=db_url,
        NETRAVEN_BROKER_URL=broker_url or redis_url,
        NETRAVEN_TRACKING=tracking,
        NETRAVEN_VAR_DIR=str(var_dir),
        NETRAVEN_SECRET_KEY="benchmark-secret-key-0123456789",  # noqa: S106 - scratch setup
        NETRAVEN_JOB_MODULES="bench_jobs",
        PYTHONPATH=f"{ROOT / 'benchmarks'}:{ROOT}",
    )
    return env


@dataclass(frozen=True)
class Mode:
    name: str
    task: str  # a plain Celery task name, or "job" for the tracked bench_noop job type
    tracking: str = "sync"
    separate_recorder: bool = False  # `netraven-tasks recorder` started apart, not by the worker

    @property
    def tracked(self) -> bool:
        return self.task == "job"


MODES = (
    Mode("untracked", "bench.untracked_noop"),
    # Same plain task with the hard/soft time limits every job type has: isolates their cost.
    Mode("limits", "bench.untracked_limited"),
    Mode("sync", "job", "sync"),
    Mode("stream", "job", "stream"),
    Mode("stream-ext", "job", "stream", separate_recorder=True),
)


def _publish(env: dict[str, str], mode: Mode, total: int) -> None:
    code = f"""
from netraven_tasks.celery_app import app
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.settings import get_settings
settings = get_settings()
for i in range({total}):
    if {mode.tracked!r}:  # one device per job, as a fleet: no job waits for another's device lease
        launch_job(settings, "bench_noop", {{"host": f"bench-{{i}}", "total": {total}}}, None)
    else:
        app.send_task({mode.task!r}, args=[{total}])
"""
    subprocess.run([sys.executable, "-c", code], env=env, cwd=ROOT, check=True)


def _run_mode(
    db_url: str, mode: Mode, total: int, var_dir: Path, redis_url: str, broker_url: str | None = None
) -> tuple[float, float | None]:
    """(tasks per second, seconds from the last task until every row is completed or None)."""
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    engine = sa.create_engine(db_url)
    with engine.begin() as connection:
        connection.execute(sa.text("TRUNCATE job_logs, job_log_entries RESTART IDENTITY CASCADE"))
    env = _env(db_url, mode.tracking, var_dir, redis_url, broker_url)
    env["NETRAVEN_RECORDER_IN_WORKER"] = "0" if mode.separate_recorder else "1"
    _publish(env, mode, total)
    var_dir.mkdir(parents=True, exist_ok=True)
    log = (var_dir / f"{mode.name}.log").open("ab")
    recorder = None
    if mode.separate_recorder:
        recorder = subprocess.Popen(
            [sys.executable, "-m", "netraven_tasks.cli", "recorder"],
            env=env, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    worker = start_worker(env, log, "bench")
    try:
        deadline = time.monotonic() + 600
        while client.get("bench:last") is None:
            if time.monotonic() > deadline or worker.poll() is not None:
                raise RuntimeError(f"{mode.name}: only {client.get('bench:done')} of {total} tasks ran")
            time.sleep(0.05)
        first, last = float(client.get("bench:first")), float(client.get("bench:last"))
        settled = None
        if mode.tracked:
            query = sa.text("SELECT count(*) FROM job_logs WHERE status = 'completed'")
            while True:
                with engine.connect() as connection:
                    if connection.execute(query).scalar_one() >= total:
                        break
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{mode.name}: rows never settled")
                time.sleep(0.02)
            settled = max(0.0, time.time() - last)
        return (total - 1) / (last - first), settled
    finally:
        stop([worker, recorder])
        log.close()
        engine.dispose()
        client.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tasks", type=int, default=2000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()

    sys.path.insert(0, str(ROOT))
    with scratch_database() as db_url:
        var_dir = Path(tempfile.gettempdir()) / sa.engine.make_url(db_url).database
        rates: dict[str, list[float]] = {m.name: [] for m in MODES}
        settle: dict[str, list[float]] = {m.name: [] for m in MODES}
        for _ in range(args.rounds):  # interleaved, so drift on a noisy machine hits every mode
            for mode in MODES:
                rate, settled = _run_mode(db_url, mode, args.tasks, var_dir, bench_redis_url())
                rates[mode.name].append(rate)
                if settled is not None:
                    settle[mode.name].append(settled)
    baseline = statistics.median(rates["untracked"])
    print(f"tracking overhead, {args.tasks} tasks x {args.rounds} rounds, prefork 2 children")
    print(f"{'mode':<10} {'tasks/s':>9} {'vs untracked':>13} {'rows settled after last task':>30}")
    for mode in MODES:
        rate = statistics.median(rates[mode.name])
        lag = f"{statistics.median(settle[mode.name]):.2f} s" if settle[mode.name] else "-"
        print(f"{mode.name:<10} {rate:>9.0f} {rate / baseline:>12.2f}x {lag:>30}")


if __name__ == "__main__":
    main()
