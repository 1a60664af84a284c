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
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
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


@dataclass(frozen=True)
class Rounds:
    """A figure measured in several rounds: its median and its spread (max - min)."""

    values: tuple[float, ...]

    @property
    def median(self) -> float:
        return statistics.median(self.values)

    @property
    def spread(self) -> float:
        return max(self.values) - min(self.values)


def throughput(
    db_url: str, tasks: int, rounds: int, var_dir: Path, broker_url: str | None = None
) -> dict[str, Rounds]:
    """Tasks/s of the untracked task with job time limits (A) and of the tracked job (B), in
    interleaved rounds A B A B … after one unmeasured warm-up of each; the ratio is taken per
    round (B over the A just before it), so a machine that gets busier or quieter between
    rounds moves both sides of a ratio alike. Also the plain untracked task, once per round.
    ``broker_url``: another broker (RabbitMQ), the bench Redis beside it for tracking."""
    by_name = {mode.name: mode for mode in MODES}
    order = [by_name["limits"], by_name["stream"], by_name["untracked"]]
    for mode in order[:2]:  # warm-up: imports, page cache, PostgreSQL's plans, Redis memory
        _run_mode(db_url, mode, max(100, tasks // 4), var_dir, bench_redis_url(), broker_url)
    rates: dict[str, list[float]] = {mode.name: [] for mode in order}
    for _ in range(rounds):
        for mode in order:
            rates[mode.name].append(_run_mode(db_url, mode, tasks, var_dir, bench_redis_url(), broker_url)[0])
    result = {name: Rounds(tuple(values)) for name, values in rates.items()}
    result["ratio"] = Rounds(tuple(b / a for a, b in zip(rates["limits"], rates["stream"], strict=True)))
    result["ratio_plain"] = Rounds(
        tuple(b / a for a, b in zip(rates["untracked"], rates["stream"], strict=True))
    )
    return result


def _fill(client: redis.Redis, jobs: int, partitions: int, queued_in: sa.Engine | None = None) -> None:
    """STARTED and SUCCEEDED of ``jobs`` runs, as the workers' handlers append them; with
    ``queued_in``, their queued rows are written first, as ``launch_job`` does."""
    from netraven_tasks.models import utcnow

    task_ids = [str(uuid.uuid4()) for _ in range(jobs)]
    if queued_in is not None:
        at = utcnow()
        with queued_in.begin() as connection:
            connection.execute(
                sa.text(
                    "INSERT INTO job_logs (task_id, job_type, status, attempts, celery_retries, queued_at, "
                    "updated_at) VALUES (:task_id, 'reachability_check', 'queued', 0, 0, :at, :at)"
                ),
                [{"task_id": task_id, "at": at} for task_id in task_ids],
            )
    append_run_events(client, task_ids, partitions)


def append_run_events(client: redis.Redis, task_ids: list[str], partitions: int = 1) -> None:
    """STARTED and SUCCEEDED of each run, appended to its partition's stream as the workers'
    handlers append them (a pipeline of 1,000 runs per round trip)."""
    from netraven_tasks.models import utcnow
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.storable import storable_event
    from netraven_tasks.tracking.stream import partition_of, partition_streams

    streams = partition_streams(partitions)
    pipe = client.pipeline(transaction=False)
    t0 = utcnow()
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


def recorder_rates(db_url: str, jobs: int, rounds: int = 1) -> dict[str, Rounds]:
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
    rates: dict[str, list[float]] = {"batched": [], "batched_launched": []}
    for _ in range(rounds):  # interleaved, like the worker's rounds
        for name, queued_in in (("batched", None), ("batched_launched", engine)):
            _truncate(engine)
            client.flushdb()
            _fill(client, jobs, 1, queued_in)
            consumer = RecorderConsumer(client, sessions, "bench", batch_size=500, block_ms=10)
            assert consumer.lead()
            started = time.perf_counter()
            written = 0
            while batch := consumer.drain_once(block_ms=10):
                written += batch
            rates[name].append(written / (time.perf_counter() - started))
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
    return {
        **{name: Rounds(tuple(values)) for name, values in rates.items()},
        "row_at_a_time": Rounds((row_at_a_time,)),
    }


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


def _spread(ratio: Rounds) -> str:
    return f"{ratio.median:.2f}x ({min(ratio.values):.2f}-{max(ratio.values):.2f})"


@contextmanager
def rabbitmq_vhost() -> Iterator[str | None]:
    """A scratch virtual host on the RabbitMQ of 127.0.0.1:5672 (its URL), or None without one."""
    vhost = f"netraven-bench-{uuid.uuid4().hex[:6]}"
    try:
        socket.create_connection(("127.0.0.1", 5672), timeout=2).close()
        for args in (["add_vhost", vhost], ["set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"]):
            subprocess.run(["rabbitmqctl", "-q", *args], check=True, capture_output=True, timeout=60)
    except (OSError, subprocess.SubprocessError):
        yield None
        return
    try:
        yield f"amqp://guest:guest@127.0.0.1:5672/{vhost}"
    finally:
        subprocess.run(
            ["rabbitmqctl", "-q", "delete_vhost", vhost], check=False, capture_output=True, timeout=60
        )


def run(quick: bool) -> dict[str, Any]:
    """The tracking rows of ``scripts/bench``: [figure, measured, baseline, target] and JSON keys."""
    sys.path.insert(0, str(ROOT))
    tasks, rounds = (600, 5) if quick else (2000, 7)
    recorder_jobs, recorder_rounds = (2500, 5) if quick else (10000, 5)
    outage = 5.0 if quick else 30.0
    var_dir = Path(tempfile.gettempdir()) / f"netraven-bench-{uuid.uuid4().hex[:6]}"
    with scratch_database() as db_url:
        rates = throughput(db_url, tasks, rounds, var_dir)
        recorder = recorder_rates(db_url, recorder_jobs, recorder_rounds)
        one = partitioned_rate(db_url, recorder_jobs, 1, var_dir)
        two = partitioned_rate(db_url, recorder_jobs, 2, var_dir)
        lost = events_lost_in_outage(db_url, 300 if quick else 1000, outage, var_dir)
        with rabbitmq_vhost() as amqp:
            rabbit = throughput(db_url, tasks, max(3, rounds // 2), var_dir, amqp) if amqp else None
    ratio, plain, batched = rates["ratio"], rates["ratio_plain"], recorder["batched"]
    each = f"median of {rounds} interleaved rounds, min-max"
    rows = [
        [f"tracked no-op job vs untracked task with the same time limits ({each})",
         _spread(ratio),
         f"{rates['limits'].median:.0f}/s", "≥ 0.90x each, median ≥ 0.93x"],
        ["tracked no-op job vs plain untracked task", f"{plain.median:.2f}x",
         f"{rates['untracked'].median:.0f}/s", "-"],
        ["the same ratio with RabbitMQ as the broker (Redis beside it for tracking)",
         _spread(rabbit["ratio"]) if rabbit else "no RabbitMQ on 127.0.0.1:5672",
         f"{rabbit['limits'].median:.0f}/s" if rabbit else "", "-"],
        [f"recorder events/s, one recorder, batches of 500 (median of {recorder_rounds})",
         f"{batched.median:.0f} ({min(batched.values):.0f}-{max(batched.values):.0f})",
         f"{recorder['row_at_a_time'].median:.0f} (row at a time)", "≥ 10,000 each, median ≥ 12,000"],
        ["the same on queued rows a launcher wrote", f"{recorder['batched_launched'].median:.0f}",
         f"{recorder['row_at_a_time'].median:.0f} (row at a time)", "-"],
        ["recorder processes, events/s: 2 partitions vs 1", f"{two:.0f}", f"{one:.0f}", "> 1 partition"],
        [f"rows lost, recorder's database cut {outage:g} s mid-run", str(lost["lost"]), "0", "0"],
    ]  # fmt: skip
    return {
        "rows": [[str(cell) for cell in row] for row in rows],
        "json": {
            "tracking_ratio": round(ratio.median, 3),
            "tracking_ratio_min": round(min(ratio.values), 3),
            "tracking_ratio_spread": round(ratio.spread, 3),
            "tracking_ratio_rounds": [round(value, 3) for value in ratio.values],
            "tracking_ratio_plain": round(plain.median, 3),
            "recorder_events_per_s": round(batched.median, 1),
            "recorder_events_per_s_min": round(min(batched.values), 1),
            "recorder_events_per_s_spread": round(batched.spread, 1),
            "recorder_events_per_s_rounds": [round(value, 1) for value in batched.values],
            "recorder_events_per_s_launched": round(recorder["batched_launched"].median, 1),
            "events_lost_db_outage": int(lost["lost"]),
            "tracking_ratio_rabbitmq": round(rabbit["ratio"].median, 3) if rabbit else None,
            "tracking_ratio_rabbitmq_rounds": [round(v, 3) for v in rabbit["ratio"].values]
            if rabbit
            else None,
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer tasks per round (~3 minutes)")
    args = parser.parse_args()
    result = run(args.quick)
    print("| figure | measured | baseline | target |")
    print("|---|---|---|---|")
    for row in result["rows"]:
        print("| " + " | ".join(row) + " |")
    print(json.dumps(result["json"]))


if __name__ == "__main__":
    main()
