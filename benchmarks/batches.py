"""Fleet runs against the real API (gunicorn, 2 workers): ``batch_launch_10k_s``, the time
``POST /jobs/{job_type}/batches`` over 10,000 devices takes to answer 202 (the batch row, its
children's rows and entries in one transaction, then 10,000 messages over one producer), and
``batch_status_p95_ms``, the p95 of ``GET /batches/{id}`` while its children's events are written
in recorder-sized batches beside it (the counters change under the reads).
"""

from __future__ import annotations

import threading
import time
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.queries import Api, _user_token, p95, timed_ms
from benchmarks.query_setup import bench_database, services
from netraven_tasks.settings import Settings

DEVICES, QUICK_DEVICES = 10_000, 500
STATUS_SAMPLES = 60
EVENTS_PER_WRITE = 500  # about a recorder batch
TARGET_LAUNCH_S = 10
TARGET_STATUS_P95_MS = 100


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


def _run_children(sessions: sessionmaker[Session], batch_id: int, stop: threading.Event) -> None:
    """What the recorder does while the batch runs: start and finish children, a chunk at a time."""
    from netraven_tasks.models import JobLog
    from netraven_tasks.tracking.events import EventKind, TrackingEvent
    from netraven_tasks.tracking.transitions import apply_events

    with sessions() as session:
        children = list(
            session.execute(select(JobLog.task_id, JobLog.job_type).where(JobLog.batch_id == batch_id))
        )
    for start in range(0, len(children), EVENTS_PER_WRITE // 2):
        if stop.is_set():
            return
        chunk = children[start : start + EVENTS_PER_WRITE // 2]
        kinds = (EventKind.STARTED, EventKind.SUCCEEDED)
        events = [TrackingEvent(kind=kind, task_id=task_id, job_type=job_type)
                  for task_id, job_type in chunk for kind in kinds]  # fmt: skip
        with sessions.begin() as session:
            apply_events(session, events)


def run(quick: bool) -> dict[str, Any]:
    count = QUICK_DEVICES if quick else DEVICES
    with bench_database() as database, services(database.url) as running:
        sessions = sessionmaker(database.engine)
        settings = Settings.from_env({k: v for k, v in running.env.items() if k.startswith("NETRAVEN_")})
        admin = Api(running.base_url, _user_token(settings, sessions, "bench-admin", True))
        _add_devices(sessions, count)
        body = {"targets": {"site": "FRA", "tags": ["core"]}, "arguments": {"port": 22}}
        started = time.perf_counter()
        response = admin.http.post(
            f"{running.base_url}/jobs/reachability_check/batches", json=body, timeout=120
        )
        launch_s = time.perf_counter() - started
        if response.status_code != 202:
            raise RuntimeError(f"the batch launch answered {response.status_code}: {response.text[:300]}")
        batch_id = response.json()["batch_id"]

        stop = threading.Event()
        writer = threading.Thread(target=_run_children, args=(sessions, batch_id, stop), daemon=True)
        writer.start()
        try:
            admin.get(f"/batches/{batch_id}")  # warm
            samples = timed_ms(lambda: admin.get(f"/batches/{batch_id}"), STATUS_SAMPLES)
        finally:
            stop.set()
            writer.join()
        status_p95 = round(p95(samples), 1)
        final = admin.get(f"/batches/{batch_id}")
    size = f"{count:,} devices"
    rows = [
        [f"batch_launch_10k_s ({size}, POST to 202)", f"{launch_s:.2f} s", "-", f"< {TARGET_LAUNCH_S} s"],
        [f"batch_status_p95_ms (GET /batches/{{id}} while its children are written; {size})",
         f"{status_p95} ms", "-", f"< {TARGET_STATUS_P95_MS} ms"],
    ]  # fmt: skip
    return {
        "rows": rows,
        "json": {
            "batch_launch_10k_s": round(launch_s, 2),
            "batch_launch_devices": count,
            "batch_status_p95_ms": status_p95,
            "batch_status_counts_seen": final["counts"],
        },
    }
