"""Each worker keeps its recorder process alive, and a recorder never outlives its worker."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from netraven_tasks.jobs.launch import launch_job
from tests.conftest import ROOT, SPARE_REDIS_URL, TEST_ENV, eventually

pytestmark = pytest.mark.usefixtures("clean_db")


def recorder_pids(worker) -> list[int]:  # type: ignore[no-untyped-def]
    pids = []
    for pid in worker.child_pids():
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
        except FileNotFoundError:
            continue
        if b"recorder" in cmdline:
            pids.append(pid)
    return pids


def test_a_killed_recorder_is_started_again_and_tracking_goes_on(settings, worker, wait_for_job):
    # e.g. still being restarted after an earlier test
    [first] = eventually(lambda: len(pids := recorder_pids(worker)) == 1 and pids, 20, "a recorder process")
    os.kill(first, signal.SIGKILL)
    eventually(lambda: [p for p in recorder_pids(worker) if p != first], 20, "the recorder restarted")
    assert first not in recorder_pids(worker)
    launched = launch_job(settings, "test_flaky", {"succeed_on_attempt": 1}, None)
    assert wait_for_job(launched.job_log_id, timeout=60).status == "completed"


def test_a_recorder_whose_worker_is_gone_stops_by_itself():
    env = {**os.environ, **TEST_ENV, "NETRAVEN_BROKER_URL": SPARE_REDIS_URL}
    not_my_parent = os.getppid()  # any live process that is not the recorder's parent
    process = subprocess.Popen(
        [sys.executable, "-m", "netraven_tasks.cli", "recorder", "--parent-pid", str(not_my_parent)],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        assert process.wait(20) == 0
    finally:
        if process.poll() is None:
            process.kill()
