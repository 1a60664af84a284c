"""Deadlines with real worker processes: heartbeats keep a long run alive, a dead worker's run is
settled, and a redelivered message of a settled run does not run again.

Each test runs workers of its own on the spare Redis db with the deadlines scaled down to
seconds (heartbeat 1 s, deadline 3 s); the reaper is called by the test, as beat would.
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest
from celery import Celery

from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.models import JobLog
from netraven_tasks.runtime import runtime_of
from netraven_tasks.statuses import TERMINAL_STATUSES
from netraven_tasks.tracking.tasks import reap
from tests.conftest import SPARE_REDIS_URL, WorkerProcess, eventually
from tests.reliability.test_faults import worker_on

pytestmark = pytest.mark.usefixtures("clean_db")

HEARTBEAT, DEADLINE = 1.0, 3.0
FAST = {"NETRAVEN_HEARTBEAT_SECONDS": str(HEARTBEAT), "NETRAVEN_DEADLINE_SECONDS": str(DEADLINE)}


@pytest.fixture
def spare_app(spare_redis) -> Celery:  # type: ignore[no-untyped-def]
    """Publishes on the spare db, where only this test's workers listen."""
    return Celery("deadlines-test", broker=SPARE_REDIS_URL, set_as_current=False)


@pytest.fixture
def reaper(settings):  # type: ignore[no-untyped-def]
    """One reaper pass with the scaled-down deadline; returns the row of ``job_log_id`` after it."""
    fast = settings.model_copy(update={"heartbeat_seconds": HEARTBEAT, "deadline_seconds": DEADLINE})
    sessions = session_factory(settings)

    def reap_and_read(job_log_id: int) -> JobLog:
        reap(fast, runtime_of())
        with sessions() as session:
            job = session.get(JobLog, job_log_id)
            assert job is not None
            job.entries  # noqa: B018 - loaded before the session closes
            return job

    return reap_and_read


def _kill(worker: WorkerProcess) -> None:
    """SIGKILL the worker and every child (pool and recorder): nothing of it says goodbye."""
    for pid in [*worker.child_pids(), worker.process.pid]:
        os.kill(pid, signal.SIGKILL)
    worker.process.wait()


def _calls(path: Path) -> int:
    return len(path.read_text().splitlines()) if path.exists() else 0


def test_job_without_time_limit_running_three_deadlines_completes_and_is_never_reaped(
    settings, spare_app, reaper, tmp_path
):
    calls = tmp_path / "calls"
    with worker_on(SPARE_REDIS_URL, "heartbeat", tmp_path, **FAST):
        launched = launch_job(
            settings, "test_counted", {"calls": str(calls), "seconds": 3 * DEADLINE}, None, app=spare_app
        )
        seen: list[str] = []

        def settled() -> JobLog | None:
            job = reaper(launched.job_log_id)  # the reaper passes all along, several times a second
            seen.append(job.status)
            return job if job.status in TERMINAL_STATUSES else None

        job = eventually(settled, 3 * DEADLINE + 20, lambda: f"the run to finish; seen {seen[-3:]}", 0.2)
    assert job.status == "completed", [entry.message for entry in job.entries]
    assert "failed" not in seen and seen.count("running") > 3 * DEADLINE, "reaper passes while it ran"
    assert [entry.event for entry in job.entries] == ["queued", "started", "succeeded"]
    assert job.deadline_at is not None and job.deadline_at > job.started_at, "heartbeats renewed it"
    assert _calls(calls) == 1


def test_sigkilled_worker_run_is_settled_within_two_deadlines_of_its_last_heartbeat(
    settings, spare_app, reaper, wait_for_job, tmp_path
):
    calls = tmp_path / "calls"
    with worker_on(SPARE_REDIS_URL, "killed", tmp_path, **FAST) as worker:
        launched = launch_job(
            settings, "test_counted", {"calls": str(calls), "seconds": 60}, None, app=spare_app
        )
        wait_for_job(launched.job_log_id, statuses={"running"})
        eventually(lambda: reaper(launched.job_log_id).deadline_at, 10, "a heartbeat")
        _kill(worker)
    last_deadline = reaper(launched.job_log_id).deadline_at
    assert last_deadline is not None
    last_heartbeat = last_deadline.timestamp() - DEADLINE

    job = eventually(
        lambda: (job := reaper(launched.job_log_id)).status == "failed" and job, 4 * DEADLINE, "the reaper"
    )
    assert time.time() - last_heartbeat <= 2 * DEADLINE + 0.5
    assert job.error_type == "WorkerLost"
    assert "no heartbeat" in (job.error_message or "")
    assert job.entries[-1].event == "reaped"


def test_redelivered_message_of_a_reaped_run_is_acknowledged_without_running(
    settings, spare_app, reaper, wait_for_job, tmp_path
):
    calls, sentinel = tmp_path / "calls", tmp_path / "sentinel-calls"
    short = {**FAST, "NETRAVEN_REDELIVERY_SECONDS": "5"}  # the broker's visibility timeout
    with worker_on(SPARE_REDIS_URL, "first", tmp_path, **short) as first:
        launched = launch_job(
            settings, "test_counted", {"calls": str(calls), "seconds": 60}, None, app=spare_app
        )
        eventually(lambda: _calls(calls) == 1, 20, "the first run to start")
        wait_for_job(launched.job_log_id, statuses={"running"})  # its recorder wrote the start
        _kill(first)  # within the visibility timeout: the message stays unacknowledged
    eventually(lambda: reaper(launched.job_log_id).status == "failed", 4 * DEADLINE, "the reaper")

    with worker_on(SPARE_REDIS_URL, "second", tmp_path, **short) as second:
        skipped = "its message was redelivered, but the run is already failed"
        # Either outcome of the redelivery ends the wait: the skip, or (without it) a second run.
        eventually(lambda: skipped in second.log() or _calls(calls) > 1, 40, "the redelivery")
        # Sentinel: a job published after it ran to the end, so the worker is past the message.
        after = launch_job(
            settings, "test_counted", {"calls": str(sentinel), "seconds": 0}, None, app=spare_app
        )
        assert wait_for_job(after.job_log_id).status == "completed"
        log = second.log()
    assert _calls(calls) == 1, "the settled run ran again"
    assert f"not running netraven.jobs.test_counted[{launched.task_id}] again" in log
    assert skipped in log
    job = reaper(launched.job_log_id)
    assert job.status == "failed" and job.error_type == "WorkerLost"
