"""Per-device concurrency with real worker processes, real Redis leases and PostgreSQL rows.

Each test runs a worker of its own (prefork, 4 children: room for runs to overlap when nothing
stops them) on the spare Redis db, with NETRAVEN_DEVICE_CONCURRENCY=1 and short waits. The job
function itself stamps its start and end (with its pid) in a file, so overlaps are measured where
they would hurt, not in the tracking rows.
"""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
from celery import Celery

from netraven_tasks.devices.leases import KEY_PREFIX
from netraven_tasks.jobs.actions import cancel_job
from netraven_tasks.jobs.launch import LaunchedJob, launch_job
from netraven_tasks.models import JobLog
from netraven_tasks.users import create_user
from tests.conftest import SPARE_REDIS_URL, WorkerProcess, eventually
from tests.reliability.test_faults import worker_on

pytestmark = pytest.mark.usefixtures("clean_db")

LIMITED = {"NETRAVEN_DEVICE_CONCURRENCY": "1", "NETRAVEN_DEVICE_WAIT_MAX_SECONDS": "1"}
POOL = ["--concurrency", "4"]


@pytest.fixture
def spare_app(spare_redis) -> Celery:  # type: ignore[no-untyped-def]
    """Publishes on the spare db, where only this test's workers listen."""
    return Celery("device-limits-test", broker=SPARE_REDIS_URL, set_as_current=False)


class Stamps:
    """The start/end lines the test jobs append: task id → (start, end, pid)."""

    def __init__(self, path: Path):
        self.path = path

    def runs(self) -> dict[str, dict[str, float]]:
        runs: dict[str, dict[str, float]] = {}
        if self.path.exists():
            for line in self.path.read_text().splitlines():
                task_id, what, at, pid = line.split()
                runs.setdefault(task_id, {})[what] = float(at)
                runs[task_id]["pid"] = int(pid)
        return runs


def _max_overlap(runs: list[dict[str, float]]) -> int:
    """The most runs that were inside the job function at one moment."""
    edges = sorted([(run["start"], 1) for run in runs] + [(run["end"], -1) for run in runs])
    inside = most = 0
    for _, step in edges:  # an end sorts before a start at the same instant (-1 < 1)
        inside += step
        most = max(most, inside)
    return most


def _launch(settings, spare_app, job_type: str, host: str, stamps: Stamps, seconds: float) -> LaunchedJob:  # type: ignore[no-untyped-def]
    arguments = {"host": host, "stamps": str(stamps.path), "seconds": seconds}
    return launch_job(settings, job_type, arguments, None, app=spare_app)


BUSY_SECONDS = 6


def _waits(job) -> list[str]:  # type: ignore[no-untyped-def]
    return [entry.message for entry in job.entries if entry.event == "deferred"]


def test_ten_jobs_on_one_device_run_one_at_a_time_and_waiting_uses_no_attempt(
    settings, spare_app, wait_for_job, tmp_path
):
    stamps = Stamps(tmp_path / "stamps")
    with worker_on(SPARE_REDIS_URL, "limited", tmp_path, POOL, **LIMITED):
        launched = [_launch(settings, spare_app, "test_stamped", "r1", stamps, 0.3) for _ in range(10)]
        jobs = [wait_for_job(run.job_log_id, timeout=60) for run in launched]

    assert [job.status for job in jobs] == ["completed"] * 10
    assert [job.attempts for job in jobs] == [1] * 10, "waiting for the device used no attempt"
    runs = stamps.runs()
    assert len(runs) == 10
    assert _max_overlap(list(runs.values())) == 1, sorted((r["start"], r["end"]) for r in runs.values())
    waits = [message for job in jobs for message in _waits(job)]
    assert len([job for job in jobs if _waits(job)]) >= 2, "with 4 children, most of them waited"
    assert all("waiting" in message and "device r1 is busy" in message for message in waits), waits
    for job in jobs:  # a wait is noted before the start, and the start is the run's only attempt
        events = [entry.event for entry in job.entries]
        assert events[0] == "queued" and events[-2:] == ["started", "succeeded"], events
        assert set(events[1:-2]) <= {"deferred"}, events


def test_limit_of_two_lets_two_run_and_other_devices_are_not_delayed(
    settings, spare_app, wait_for_job, tmp_path
):
    stamps = Stamps(tmp_path / "stamps")
    with worker_on(SPARE_REDIS_URL, "pairs", tmp_path, POOL, **LIMITED):
        # test_stamped_pairs declares device_concurrency=2 (the worker's default here is 1).
        busy = [_launch(settings, spare_app, "test_stamped_pairs", "r2", stamps, 1.0) for _ in range(5)]
        others = [_launch(settings, spare_app, "test_stamped", host, stamps, 0.2) for host in ("r3", "r4")]
        busy_jobs = [wait_for_job(run.job_log_id, timeout=60) for run in busy]
        other_jobs = [wait_for_job(run.job_log_id, timeout=60) for run in others]

    assert [job.status for job in busy_jobs + other_jobs] == ["completed"] * 7
    assert [job.attempts for job in busy_jobs] == [1] * 5
    runs = stamps.runs()
    busy_runs = [runs[run.task_id] for run in busy]
    assert _max_overlap(busy_runs) == 2, sorted((r["start"], r["end"]) for r in busy_runs)
    last_busy_end = max(run["end"] for run in busy_runs)
    for run, job in zip(others, other_jobs, strict=True):
        assert _waits(job) == [], "a job on another device never waits for r2"
        assert runs[run.task_id]["end"] < last_busy_end, "it ran while r2's jobs still queued"


def _kill(worker: WorkerProcess) -> None:
    """SIGKILL the worker and every child: nothing of it gives a lease back."""
    for pid in [*worker.child_pids(), worker.process.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.process.wait()


@pytest.fixture
def two_workers(tmp_path) -> Iterator[tuple[WorkerProcess, WorkerProcess]]:  # type: ignore[no-untyped-def]
    # Heartbeat 1 s, deadline 3 s: a lease lives 3 s past its last renewal.
    fast = {**LIMITED, "NETRAVEN_HEARTBEAT_SECONDS": "1", "NETRAVEN_DEADLINE_SECONDS": "3"}
    with (
        worker_on(SPARE_REDIS_URL, "one", tmp_path, **fast) as one,
        worker_on(SPARE_REDIS_URL, "two", tmp_path, **fast) as two,
    ):
        yield one, two


def test_lease_of_a_killed_worker_expires_and_the_next_job_on_its_device_runs(
    settings, spare_app, spare_redis: redis.Redis, wait_for_job, two_workers, tmp_path
):
    stamps = Stamps(tmp_path / "stamps")
    held = _launch(settings, spare_app, "test_stamped", "r5", stamps, 60)
    started = eventually(lambda: stamps.runs().get(held.task_id), 20, "the first run to start")
    holder, survivor = two_workers if started["pid"] in two_workers[0].child_pids() else two_workers[::-1]
    time.sleep(1.5)  # past a heartbeat: the lease was renewed at least once
    _kill(holder)
    expiry = spare_redis.zscore(KEY_PREFIX + "r5", held.task_id)
    assert expiry is not None, "the running job held a lease on its device"

    waiting = _launch(settings, spare_app, "test_stamped", "r5", stamps, 0)
    launched_at = time.time()
    job = wait_for_job(waiting.job_log_id, timeout=30)

    assert launched_at < expiry, "the job met the dead worker's lease"
    assert job.status == "completed" and job.attempts == 1
    assert stamps.runs()[waiting.task_id]["start"] >= expiry - 0.05, "it ran only after the lease expired"
    assert _waits(job), "it waited, and said so"
    assert survivor.process.poll() is None


def test_heartbeat_keeps_the_lease_of_a_job_running_past_its_first_lifetime(
    settings, spare_app, wait_for_job, tmp_path
):
    stamps = Stamps(tmp_path / "stamps")
    # Heartbeat 1 s, deadline 3 s: a lease lives 3 s unless the heartbeat renews it.
    fast = {**LIMITED, "NETRAVEN_HEARTBEAT_SECONDS": "1", "NETRAVEN_DEADLINE_SECONDS": "3"}
    with worker_on(SPARE_REDIS_URL, "renewing", tmp_path, POOL, **fast):
        long = _launch(settings, spare_app, "test_stamped", "r6", stamps, 5)
        eventually(lambda: long.task_id in stamps.runs(), 20, "the long run to start")
        short = _launch(settings, spare_app, "test_stamped", "r6", stamps, 0)
        jobs = [wait_for_job(run.job_log_id, timeout=30) for run in (long, short)]

    assert [job.status for job in jobs] == ["completed", "completed"]
    runs = stamps.runs()
    assert runs[short.task_id]["start"] >= runs[long.task_id]["end"], "it waited for the whole run"
    assert _waits(jobs[1])


def test_a_job_canceled_while_it_waits_for_its_device_never_runs(
    settings, spare_app, db_session, wait_for_job, tmp_path
):
    stamps = Stamps(tmp_path / "stamps")
    admin = create_user(db_session, "lease-admin", "lease-admin@example.test", is_admin=True)
    db_session.commit()
    with worker_on(SPARE_REDIS_URL, "cancel", tmp_path, POOL, **LIMITED):
        # Long enough that a loaded machine still sees the second run waiting before the first ends.
        busy = _launch(settings, spare_app, "test_stamped", "r7", stamps, BUSY_SECONDS)
        waiting = _launch(settings, spare_app, "test_stamped", "r7", stamps, 0)
        eventually(lambda: _waits(wait_for_job(waiting.job_log_id, statuses={"queued"})), 20, "a wait")
        row = db_session.get(JobLog, waiting.job_log_id)
        assert row is not None
        cancel_job(db_session, row, admin.id, admin.username, app=spare_app)
        # Sentinel: a run launched after the cancel, on the same device, waits behind the busy one
        # and ends after it; by then the canceled run's copy (waits are at most 1 s) has come back.
        after = _launch(settings, spare_app, "test_stamped", "r7", stamps, 0)
        assert wait_for_job(busy.job_log_id).status == "completed"
        assert wait_for_job(after.job_log_id).status == "completed"
        job = wait_for_job(waiting.job_log_id)

    assert job.status == "canceled" and job.attempts == 0
    assert waiting.task_id not in stamps.runs(), "the canceled run never ran"
