"""Fleet runs against the real API (gunicorn, 2 workers), each figure beside a baseline measured in
the same run (the machine is shared and noisy: compare the ratio, not the raw figure):

- ``batch_launch_10k_s``: ``POST /jobs/{job_type}/batches`` over 10,000 devices, to its 202 (the
  batch row, its children's rows and entries in one transaction, then 10,000 messages in chunks).
  Baseline: one single run's ``POST /jobs/{job_type}/runs`` (median), times the device count.
- ``batch_status_p95_ms``: ``GET /batches/{id}`` while another process writes its children's events
  in recorder-sized batches (the counters change under the reads; 2 % of the children fail, so
  ``failed_devices`` is read too). Baseline: ``GET /healthz``, interleaved with it.
- ``batch_tracking_ratio``: the recorder's events/s on batch children over the same on single runs
  (same job, same events, batches of 500, interleaved rounds); ``batch_tracking_cpu_ratio`` the same
  per CPU second of the recorder and its database connection, which other work on the machine
  sways far less.
- ``batch_first_child_start_s``: with a worker running, when the first child started relative to the
  batch's 202 (negative: before it, since the first chunks go out while the rest are sent).
"""

from __future__ import annotations

import contextlib
import multiprocessing
import os
import statistics
import sys
import time
import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import redis
import requests
import sqlalchemy as sa
from kombu import Connection
from sqlalchemy import func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.queries import Api, _user_token, p95, timed_ms
from benchmarks.query_setup import Services, bench_database, services
from benchmarks.scratch import bench_redis_url
from benchmarks.tracking import append_run_events
from netraven_tasks.settings import Settings

DEVICES, QUICK_DEVICES = 10_000, 500
STATUS_SAMPLES = 60
SINGLE_LAUNCHES = 20
EVENTS_PER_WRITE = 500  # about a recorder batch
FAILING_EVERY = 50  # one child in 50 fails: failed_devices has something to read
TRACKED_RUNS, QUICK_TRACKED_RUNS = 2_500, 1_000
TRACKING_ROUNDS = 8
FIRST_START_WAIT_S = 60
WRITER_START_S = 60
TARGET_LAUNCH_S = 10
TARGET_STATUS_P95_MS = 20
TARGET_TRACKING_RATIO = 0.95
TARGET_FIRST_CHILD_S = 1
LAUNCH_BODY = {"targets": {"site": "FRA", "tags": ["core"]}, "arguments": {"port": 22}}


def _add_devices(sessions: sessionmaker[Session], count: int) -> None:
    from netraven_tasks.devices.models import Device, DeviceTag

    with sessions.begin() as session:
        session.execute(
            insert(Device),
            [{"name": f"bench-{i:05d}", "address": f"10.{i // 65536}.{i // 256 % 256}.{i % 256}",
              "platform": "generic", "site": "FRA", "enabled": True} for i in range(count)],
        )  # fmt: skip
        ids = list(session.scalars(select(Device.id)))
        session.execute(insert(DeviceTag), [{"device_id": device_id, "tag": "core"} for device_id in ids])


def _run_children(database_url: str, batch_id: int, writing: Any, stop: Any) -> None:
    """What the recorder does while the batch runs (in a process of its own, as the recorder is):
    start and end children, a recorder batch at a time; one in ``FAILING_EVERY`` fails. Sets
    ``writing`` once the first batch is committed."""
    from netraven_tasks.db import make_engine
    from netraven_tasks.models import JobLog
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.transitions import apply_events

    engine = make_engine(database_url)
    sessions = sessionmaker(engine)
    with sessions() as session:
        children = list(
            session.execute(
                select(JobLog.task_id, JobLog.job_type).where(JobLog.batch_id == batch_id).order_by(JobLog.id)
            )
        )
    for start in range(0, len(children), EVENTS_PER_WRITE // 2):
        if stop.is_set():
            break
        events = []
        for index, (task_id, job_type) in enumerate(children[start : start + EVENTS_PER_WRITE // 2], start):
            events.append(TrackingEvent(kind=EventKind.STARTED, task_id=task_id, job_type=job_type))
            if index % FAILING_EVERY:
                events.append(TrackingEvent(kind=EventKind.SUCCEEDED, task_id=task_id, job_type=job_type))
            else:
                failed = TrackingEvent(kind=EventKind.FAILED, task_id=task_id, job_type=job_type,
                                       error_type="TimeoutError", error_message="no answer")  # fmt: skip
                events.append(failed)
        with sessions.begin() as session:
            apply_events(session, events)
        writing.set()
    engine.dispose()


def _post_batch(admin: Api, job_type: str, body: dict[str, Any]) -> tuple[requests.Response, float, float]:
    """(the answer, seconds to it, the wall-clock time of it)."""
    started = time.perf_counter()
    response = admin.http.post(f"{admin.base_url}/jobs/{job_type}/batches", json=body, timeout=120)
    return response, time.perf_counter() - started, time.time()


def _launch(admin: Api, job_type: str, body: dict[str, Any]) -> tuple[int, float]:
    """(batch id, seconds to the 202)."""
    response, seconds, _ = _post_batch(admin, job_type, body)
    if response.status_code != 202:
        raise RuntimeError(f"the batch launch answered {response.status_code}: {response.text[:300]}")
    return int(response.json()["batch_id"]), seconds


def _single_launch_ms(admin: Api) -> float:
    """The median of single runs launched through the API: the fleet one run at a time."""
    body: dict[str, Any] = {"host": "10.0.0.1", "port": 22}

    def launch() -> None:
        response = admin.http.post(f"{admin.base_url}/jobs/reachability_check/runs", json=body, timeout=30)
        response.raise_for_status()

    launch()  # warm
    return statistics.median(timed_ms(launch, SINGLE_LAUNCHES))


def _status_while_written(admin: Api, database_url: str, batch_id: int) -> tuple[list[float], list[float]]:
    """GET /batches/{id} and GET /healthz samples, interleaved, while another process writes."""
    context = multiprocessing.get_context("spawn")
    writing, stop = context.Event(), context.Event()
    writer = context.Process(target=_run_children, args=(database_url, batch_id, writing, stop), daemon=True)
    admin.get(f"/batches/{batch_id}")  # warm
    admin.get("/healthz")
    writer.start()
    if not writing.wait(WRITER_START_S):
        raise RuntimeError(f"the children's writer wrote nothing within {WRITER_START_S} s")
    status: list[float] = []
    floor: list[float] = []
    try:
        for _ in range(STATUS_SAMPLES):
            status += timed_ms(lambda: admin.get(f"/batches/{batch_id}"), 1)
            floor += timed_ms(lambda: admin.get("/healthz"), 1)
    finally:
        stop.set()
        writer.join()
    return status, floor


def _queued_runs(sessions: sessionmaker[Session], count: int, batch: bool) -> list[str]:
    """``count`` queued runs as the launchers write them: the children of one new batch, or single runs."""
    from netraven_tasks.batches.models import Batch, BatchStatus
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.transitions import apply_events

    with sessions.begin() as session:
        batch_id = None
        if batch:
            row = Batch(job_type="reachability_check", status=BatchStatus.RUNNING.value, total=count,
                        arguments={"port": 22}, targets=LAUNCH_BODY["targets"])  # fmt: skip
            session.add(row)
            session.flush()
            batch_id = row.id
        events = [
            TrackingEvent(kind=EventKind.QUEUED, task_id=str(uuid.uuid4()), job_type="reachability_check",
                          device=f"bench-{i:05d}", args={"host": f"10.0.0.{i % 256}", "port": 22},
                          batch_id=batch_id)
            for i in range(count)
        ]  # fmt: skip
        apply_events(session, events)
    return [event.task_id for event in events]


class WorkCpu:
    """CPU seconds of this process and of the server processes of its database connections
    (PostgreSQL on this machine, read from /proc): what the recorder's writes cost, which other
    work on a shared machine inflates far less than it does wall time."""

    TICK = os.sysconf("SC_CLK_TCK")

    def __init__(self, engine: sa.Engine):
        self._backends: set[int] = set()
        sa.event.listen(engine, "connect", self._remember)

    def _remember(self, connection: Any, _record: Any) -> None:
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_backend_pid()")
            self._backends.add(int(cursor.fetchone()[0]))

    def seconds(self) -> float:
        server = 0
        for pid in self._backends:
            with contextlib.suppress(OSError):  # a connection the pool closed: its time is gone too
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
                server += int(fields[11]) + int(fields[12])  # utime, stime
        return time.process_time() + server / self.TICK


def _recorder_rates(
    client: redis.Redis, sessions: sessionmaker[Session], cpu: WorkCpu, task_ids: list[str]
) -> tuple[float, float]:
    """Events per second and per CPU second of one recorder (batches of 500) writing the start and
    end of these runs."""
    from netraven_tasks.tracking.stream import RecorderConsumer

    append_run_events(client, task_ids)
    consumer = RecorderConsumer(client, sessions, "bench-batches", batch_size=EVENTS_PER_WRITE, block_ms=10)
    if not consumer.lead():
        raise RuntimeError("another recorder leads the tracking stream of the benchmark's Redis db")
    try:
        started, cpu_started = time.perf_counter(), cpu.seconds()
        written = 0
        while batch := consumer.drain_once(block_ms=10):
            written += batch
        return written / (time.perf_counter() - started), written / (cpu.seconds() - cpu_started)
    finally:
        consumer.release()


def _tracking_rates(database_url: str, runs: int) -> dict[str, float]:
    """The recorder's events/s on batch children and on single runs (medians), and the medians of
    their ratios within each round, per second and per CPU second: each round measures both, back
    to back, in alternating order, so drift on a busy machine hits both alike."""
    from netraven_tasks.db import make_engine

    engine = make_engine(database_url)
    cpu = WorkCpu(engine)
    sessions = sessionmaker(engine, expire_on_commit=False)
    client = redis.Redis.from_url(bench_redis_url())
    rates: dict[str, list[tuple[float, float]]] = {"single": [], "batch": []}
    try:
        for round_ in range(TRACKING_ROUNDS):
            for kind in ("single", "batch") if round_ % 2 == 0 else ("batch", "single"):
                task_ids = _queued_runs(sessions, runs, batch=kind == "batch")
                rates[kind].append(_recorder_rates(client, sessions, cpu, task_ids))
    finally:
        client.close()
        engine.dispose()
    pairs = list(zip(rates["batch"], rates["single"], strict=True))
    return {
        "single": statistics.median(wall for wall, _ in rates["single"]),
        "batch": statistics.median(wall for wall, _ in rates["batch"]),
        "ratio": statistics.median(batch[0] / single[0] for batch, single in pairs),
        "cpu_ratio": statistics.median(batch[1] / single[1] for batch, single in pairs),
    }


def _first_child_start(running: Services, admin: Api, sessions: sessionmaker[Session]) -> dict[str, Any]:
    """With a worker consuming: launch a batch of no-op children, and see when the first started
    (also when the launch does not answer 202: its first chunks went out all the same)."""
    from netraven_tasks.batches.models import Batch
    from netraven_tasks.models import JobLog

    with Connection(running.env["NETRAVEN_BROKER_URL"]) as connection:
        connection.default_channel.queue_purge("celery")  # the earlier batch's messages: nobody ran them
    running.start_worker()
    body = {"targets": LAUNCH_BODY["targets"], "arguments": {"seconds": 0}}
    posted = time.time()
    response, launch_s, answered = _post_batch(admin, "bench_sleep", body)
    batch = select(func.max(Batch.id)).where(Batch.job_type == "bench_sleep").scalar_subquery()
    first = select(func.min(JobLog.started_at)).where(JobLog.batch_id == batch)
    deadline = time.monotonic() + FIRST_START_WAIT_S
    started_at: datetime | None = None
    while started_at is None and time.monotonic() < deadline:
        with sessions() as session:
            started_at = session.scalar(first)
        time.sleep(0.05)
    if started_at is None:
        raise RuntimeError(f"no child of the worker's batch started within {FIRST_START_WAIT_S} s")
    return {
        "status": response.status_code,
        "launch_s": launch_s,
        "after_202_s": started_at.timestamp() - answered if response.status_code == 202 else None,
        "after_post_s": started_at.timestamp() - posted,
    }


def _first_child_row(first: dict[str, Any], size: str) -> list[str]:
    figure = f"batch_first_child_start_s (a worker running; first child's start minus the 202; {size})"
    target = f"< {TARGET_FIRST_CHILD_S} s"
    after_post = f"{first['after_post_s']:.2f} s after the POST"
    if first["after_202_s"] is None:
        answer = f"that launch answered {first['status']} after {first['launch_s']:.2f} s"
        return [figure, f"no 202 ({after_post})", answer, target]
    launch = f"{first['launch_s']:.2f} s (that launch, POST to 202)"
    return [figure, f"{first['after_202_s']:+.2f} s ({after_post})", launch, target]


def run(quick: bool) -> dict[str, Any]:
    count = QUICK_DEVICES if quick else DEVICES
    with bench_database() as database, services(database.url) as running:
        sessions = sessionmaker(database.engine)
        settings = Settings.from_env({k: v for k, v in running.env.items() if k.startswith("NETRAVEN_")})
        admin = Api(running.base_url, _user_token(settings, sessions, "bench-admin", True))
        _add_devices(sessions, count)
        single_ms = _single_launch_ms(admin)
        batch_id, launch_s = _launch(admin, "reachability_check", LAUNCH_BODY)
        status, floor = _status_while_written(admin, database.url, batch_id)
        final = admin.get(f"/batches/{batch_id}")
        print(f"batch launch: {launch_s:.2f} s; status p95 {p95(status):.1f} ms", file=sys.stderr)
        tracking = _tracking_rates(database.url, QUICK_TRACKED_RUNS if quick else TRACKED_RUNS)
        first = _first_child_start(running, admin, sessions)
    size = f"{count:,} devices"
    status_p95, floor_p95 = round(p95(status), 1), round(p95(floor), 1)
    tracking_ratio = tracking["ratio"]
    rows = [
        [f"batch_launch_10k_s ({size}, POST to 202)", f"{launch_s:.2f} s",
         f"{single_ms * count / 1000:.1f} s ({single_ms:.1f} ms per single run, {count:,} times)",
         f"< {TARGET_LAUNCH_S} s"],
        [f"batch_status_p95_ms (GET /batches/{{id}} while its children are written; {size})",
         f"{status_p95} ms", f"{floor_p95} ms (GET /healthz, interleaved)", f"< {TARGET_STATUS_P95_MS} ms"],
        [f"batch_tracking_ratio (recorder events/s: batch children vs single runs, batches of 500; median of "
         f"{TRACKING_ROUNDS} rounds)",
         f"{tracking_ratio:.3f} ({tracking['batch']:.0f}/s); per CPU second {tracking['cpu_ratio']:.3f}",
         f"{tracking['single']:.0f}/s (single runs)",
         f"≥ {TARGET_TRACKING_RATIO}"],
        _first_child_row(first, size),
    ]  # fmt: skip
    return {
        "rows": rows,
        "json": {
            "batch_launch_10k_s": round(launch_s, 2),
            "batch_launch_devices": count,
            "batch_launch_single_run_ms": round(single_ms, 2),
            "batch_status_p95_ms": status_p95,
            "batch_status_healthz_p95_ms": floor_p95,
            "batch_status_counts_seen": final["counts"],
            "batch_tracking_ratio": round(tracking_ratio, 3),
            "batch_tracking_cpu_ratio": round(tracking["cpu_ratio"], 3),
            "batch_tracking_events_per_s": round(tracking["batch"], 1),
            "batch_tracking_single_events_per_s": round(tracking["single"], 1),
            "batch_first_child_start_s": (
                None if first["after_202_s"] is None else round(first["after_202_s"], 3)
            ),
            "batch_first_child_after_post_s": round(first["after_post_s"], 3),
            "batch_launch_with_worker_s": round(first["launch_s"], 2),
            "batch_launch_with_worker_status": first["status"],
        },
    }
