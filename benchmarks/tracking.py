"""Tracking benchmark for ``scripts/bench``: worker throughput ratio, recorder events/s,
partitions, and events lost across a database outage. Every figure has its baseline measured
in the same run.

    .venv/bin/python -m benchmarks.tracking [--quick]

Needs PostgreSQL and Redis on 127.0.0.1 (like scripts/test). It makes a scratch database (and
drops it) and uses Redis db 15 (flushed), so run it when nothing else uses that db.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import redis
import sqlalchemy as sa

from benchmarks.scratch import ROOT, bench_redis_url, scratch_database, start_worker, stop
from benchmarks.tracking_overhead import MODES, _env, _publish, _run_mode

COMPLETED = sa.text("SELECT count(*) FROM job_logs WHERE status = 'completed'")


def _truncate(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            sa.text("TRUNCATE job_logs, job_log_entries, tracking_fences RESTART IDENTITY CASCADE")
        )


def throughput(db_url: str, tasks: int, rounds: int, var_dir: Path) -> dict[str, float]:
    """Median tasks/s of the untracked task, the same with job time limits, and a tracked job."""
    chosen = [mode for mode in MODES if mode.name in {"untracked", "limits", "stream"}]
    rates: dict[str, list[float]] = {mode.name: [] for mode in chosen}
    for _ in range(rounds):  # interleaved: drift on a busy machine hits every mode alike
        for mode in chosen:
            rates[mode.name].append(_run_mode(db_url, mode, tasks, var_dir, bench_redis_url())[0])
    return {name: statistics.median(values) for name, values in rates.items()}


def _fill(client: redis.Redis, jobs: int, partitions: int, queued_in: sa.Engine | None = None) -> None:
    """STARTED and SUCCEEDED of ``jobs`` runs, as the workers' handlers append them; with
    ``queued_in``, their queued rows are written first, as ``launch_job`` does."""
    from netraven_tasks.models import utcnow
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.storable import storable_event
    from netraven_tasks.tracking.stream import partition_of, partition_streams

    streams = partition_streams(partitions)
    pipe = client.pipeline(transaction=False)
    t0 = utcnow()
    task_ids = [str(uuid.uuid4()) for _ in range(jobs)]
    if queued_in is not None:
        with queued_in.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO job_logs (task_id, job_type, status, attempts, celery_retries, queued_at, "
                    "updated_at) VALUES (:task_id, 'reachability_check', 'queued', 0, 0, :at, :at)"
                ),
                [{"task_id": task_id, "at": t0} for task_id in task_ids],
            )
    for i, task_id in enumerate(task_ids):
        stream = streams[partition_of(task_id, partitions)]
        started = TrackingEvent(EventKind.STARTED, task_id, "reachability_check", at=t0, worker="w")
        succeeded = TrackingEvent(
            EventKind.SUCCEEDED,
            task_id,
            "reachability_check",
            at=t0 + timedelta(seconds=1),
            result={"ok": True},
        )
        for event in (started, succeeded):
            pipe.xadd(stream, {"event": json.dumps(storable_event(event).to_dict(), default=str)})
        if i % 1000 == 999:
            pipe.execute()
    pipe.execute()


def recorder_rates(db_url: str, jobs: int) -> dict[str, float]:
    """Events/s of one recorder (batches of 500) and of row-at-a-time writes (the baseline):
    on rows the recorder creates itself, and on queued rows a launcher wrote (the usual case)."""
    from sqlalchemy.orm import sessionmaker

    import netraven_tasks.jobs.reachability  # noqa: F401 - the job type the events name
    from netraven_tasks.models import utcnow
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.recorder import SyncRecorder
    from netraven_tasks.tracking.stream import RecorderConsumer

    client = redis.Redis.from_url(bench_redis_url())
    client.flushdb()
    engine = sa.create_engine(db_url)
    _truncate(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    rates = {}
    for name, queued_in in (("batched", None), ("batched_launched", engine)):
        _fill(client, jobs, 1, queued_in)
        consumer = RecorderConsumer(client, sessions, "bench", batch_size=500, block_ms=10)
        assert consumer.lead()
        started = time.perf_counter()
        written = 0
        while batch := consumer.drain_once(block_ms=10):
            written += batch
        rates[name] = written / (time.perf_counter() - started)
        consumer.release()
    sync = SyncRecorder(sessions)
    sample = 400
    started = time.perf_counter()
    for i in range(sample // 2):
        sync.record(TrackingEvent(EventKind.STARTED, f"row-{i}", "reachability_check", worker="w"))
        sync.record(TrackingEvent(EventKind.SUCCEEDED, f"row-{i}", "reachability_check", at=utcnow()))
    row_at_a_time = sample / (time.perf_counter() - started)
    client.flushdb()
    client.close()
    engine.dispose()
    return {**rates, "row_at_a_time": row_at_a_time}


def partitioned_rate(db_url: str, jobs: int, partitions: int, var_dir: Path) -> float:
    """Events/s written by ``partitions`` recorder processes, one partition each."""
    client = redis.Redis.from_url(bench_redis_url())
    client.flushdb()
    engine = sa.create_engine(db_url)
    _truncate(engine)
    _fill(client, jobs, partitions)
    env = _env(db_url, "stream", var_dir, bench_redis_url())
    env["NETRAVEN_TRACKING_PARTITIONS"] = str(partitions)
    started = time.perf_counter()
    recorders = [
        subprocess.Popen(
            [
                sys.executable,
                "-m",
                "netraven_tasks.cli",
                "recorder",
                "--partitions",
                str(p),
                "--name",
                f"bench{p}",
            ],
            env=env,
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for p in range(partitions)
    ]
    try:
        deadline = time.monotonic() + 600
        while True:
            with engine.connect() as connection:
                if connection.execute(COMPLETED).scalar_one() >= jobs:
                    break
            if time.monotonic() > deadline:
                raise RuntimeError("recorders never finished")
            time.sleep(0.05)
        return 2 * jobs / (time.perf_counter() - started)
    finally:
        stop(recorders)
        client.flushdb()
        client.close()
        engine.dispose()


def events_lost_in_outage(db_url: str, jobs: int, outage_seconds: float, var_dir: Path) -> dict[str, float]:
    """Tracked jobs run while the recorder's database connection is cut for ``outage_seconds``."""
    from benchmarks.tracking_overhead import Mode
    from tests.support.tcp_proxy import TcpProxy

    client = redis.Redis.from_url(bench_redis_url())
    client.flushdb()
    engine = sa.create_engine(db_url)
    _truncate(engine)
    env = _env(db_url, "stream", var_dir, bench_redis_url())
    _publish(env, Mode("stream", "job", "stream"), jobs)  # the launcher writes through the real port
    url = sa.engine.make_url(db_url)
    proxy = TcpProxy(url.port or 5432).start()
    env["NETRAVEN_DATABASE_URL"] = url.set(port=proxy.port).render_as_string(hide_password=False)
    var_dir.mkdir(parents=True, exist_ok=True)
    log = (var_dir / "outage.log").open("ab")
    worker = start_worker(env, log, "outage")
    try:
        while int(client.get("bench:done") or 0) < jobs // 10:
            time.sleep(0.05)
        proxy.block()
        blocked_at = int(client.get("bench:done") or 0)
        time.sleep(outage_seconds)
        proxy.unblock()
        deadline = time.monotonic() + 120
        completed = 0
        while time.monotonic() < deadline:
            with engine.connect() as connection:
                completed = connection.execute(COMPLETED).scalar_one()
            if completed >= jobs:
                break
            time.sleep(0.2)
        return {
            "lost": jobs - completed,
            "ran_during_outage": int(client.get("bench:done") or 0) - blocked_at,
        }
    finally:
        stop([worker])
        proxy.stop()
        log.close()
        client.flushdb()
        client.close()
        engine.dispose()


def run(quick: bool) -> dict[str, Any]:
    """The tracking rows of ``scripts/bench``: [figure, measured, baseline, target] and JSON keys."""
    sys.path.insert(0, str(ROOT))
    tasks, rounds = (1000, 1) if quick else (3000, 2)
    recorder_jobs = 5000 if quick else 20000
    outage = 5.0 if quick else 30.0
    var_dir = Path(tempfile.gettempdir()) / f"netraven-bench-{uuid.uuid4().hex[:6]}"
    with scratch_database() as db_url:
        rates = throughput(db_url, tasks, rounds, var_dir)
        recorder = recorder_rates(db_url, recorder_jobs)
        one = partitioned_rate(db_url, recorder_jobs, 1, var_dir)
        two = partitioned_rate(db_url, recorder_jobs, 2, var_dir)
        lost = events_lost_in_outage(db_url, 300 if quick else 1000, outage, var_dir)
    ratio, plain = rates["stream"] / rates["limits"], rates["stream"] / rates["untracked"]
    rows = [
        ["tracked no-op job, tasks/s (vs untracked task with the same time limits)",
         f"{rates['stream']:.0f} ({ratio:.2f}x)", f"{rates['limits']:.0f}", "≥ 0.90x"],
        ["tracked no-op job vs plain untracked task", f"{plain:.2f}x", f"{rates['untracked']:.0f}/s", "-"],
        ["recorder events/s, one recorder, batches of 500", f"{recorder['batched']:.0f}",
         f"{recorder['row_at_a_time']:.0f} (row at a time)", "≥ 10,000"],
        ["the same on queued rows a launcher wrote", f"{recorder['batched_launched']:.0f}",
         f"{recorder['row_at_a_time']:.0f} (row at a time)", "-"],
        ["recorder processes, events/s: 2 partitions vs 1", f"{two:.0f}", f"{one:.0f}", "> 1 partition"],
        [f"rows lost, recorder's database cut {outage:g} s mid-run", str(lost["lost"]), "0", "0"],
    ]  # fmt: skip
    return {
        "rows": [[str(cell) for cell in row] for row in rows],
        "json": {
            "tracking_ratio": round(ratio, 3),
            "tracking_ratio_plain": round(plain, 3),
            "recorder_events_per_s": round(recorder["batched"], 1),
            "recorder_events_per_s_launched": round(recorder["batched_launched"], 1),
            "events_lost_db_outage": int(lost["lost"]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks, one round (~3 minutes)")
    args = parser.parse_args()
    result = run(args.quick)
    print("| figure | measured | baseline | target |")
    print("|---|---|---|---|")
    for row in result["rows"]:
        print("| " + " | ".join(row) + " |")
    print(json.dumps(result["json"]))


if __name__ == "__main__":
    main()
