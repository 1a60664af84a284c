"""A job whose worker child is killed mid-run runs again; no row stays `running`."""

from __future__ import annotations

import os
import signal

import pytest

from netraven_tasks.jobs.launch import launch_job
from tests.conftest import eventually

pytestmark = pytest.mark.usefixtures("clean_db")


def test_sigkill_of_the_worker_child_mid_job_reruns_it_to_completion(
    settings, worker, wait_for_job, tmp_path
):
    marker = tmp_path / "first-run-started"
    launched = launch_job(settings, "test_slow_once", {"marker": str(marker), "seconds": 60}, None)
    wait_for_job(launched.job_log_id, statuses={"running"})
    eventually(marker.exists, 10, "the first run to start")

    children = worker.child_pids()
    assert children, "the prefork worker has no children"
    for pid in children:
        os.kill(pid, signal.SIGKILL)

    job = wait_for_job(launched.job_log_id, timeout=60)
    assert job.status == "completed"
    assert job.result == {"run": "again"}
    assert job.attempts == 2
    assert [e.event for e in job.entries] == ["queued", "started", "started", "succeeded"]
    assert worker.process.poll() is None, "the worker itself survives its child's death"
