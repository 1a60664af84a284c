"""The Celery integration: importing the app connects nothing; the recorder is a worker bootstep."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import redis

from netraven_tasks.logging_setup import JobLogIds
from netraven_tasks.tracking.stream import GROUP, STREAM
from tests.conftest import ROOT, TEST_ENV, eventually, free_port, start_worker, stop_process

# Run in a fresh interpreter with the broker and the database on ports where nothing listens:
# every connection attempt is recorded (and refused), then the app is inspected.
IMPORT_PROBE = """
import json, socket, sys, time
attempts = []
real_connect = socket.socket.connect
def connect(self, address):
    attempts.append(repr(address))
    return real_connect(self, address)
socket.socket.connect = connect
started = time.monotonic()
import netraven_tasks.celery_app as celery_app
from netraven_tasks.recorder_step import RecorderStep
print(json.dumps({
    "seconds": time.monotonic() - started,
    "attempts": attempts,
    "integration": celery_app.app.netraven is celery_app.integration,
    "bootstep": RecorderStep in celery_app.app.steps["worker"],
    "tasks": sorted(name for name in celery_app.app.tasks if name.startswith("netraven.")),
}))
"""


def test_importing_the_celery_app_opens_no_connection():
    closed = free_port()
    env = {
        **os.environ, **TEST_ENV,
        "NETRAVEN_BROKER_URL": f"redis://127.0.0.1:{closed}/0",
        "NETRAVEN_DATABASE_URL": f"postgresql+psycopg2://postgres@127.0.0.1:{closed}/nowhere",
    }  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-X", "dev", "-c", IMPORT_PROBE], env=env, cwd=ROOT, capture_output=True, text=True,
        timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    probe = json.loads(done.stdout.strip().splitlines()[-1])
    assert probe["attempts"] == [], "importing the app connected somewhere"
    assert probe["seconds"] < 10, "no connection timeout was waited for"
    assert "Traceback" not in done.stderr and "Warning" not in done.stderr, done.stderr[-3000:]
    assert probe["integration"] and probe["bootstep"]
    # Every task name still there: job types, tracking, notifications, rollups.
    assert {
        "netraven.jobs.reachability_check", "netraven.jobs.config_backup", "netraven.reap_vanished_jobs",
        "netraven.notifications.notify_job_outcome", "netraven.notifications.deliver_outbox",
        "netraven.notifications.send_hourly_digest", "netraven.notifications.send_daily_digest",
        "netraven.roll_up_job_logs", "netraven.purge_expired_job_logs",
    } <= set(probe["tasks"])  # fmt: skip


def _recorders_of(worker_pid: int) -> list[tuple[int, list[str]]]:
    """The recorder processes the worker runs as its children: (pid, command line)."""
    out = subprocess.run(["pgrep", "-P", str(worker_pid)], capture_output=True, text=True, check=False)
    found = []
    for pid in map(int, out.stdout.split()):
        try:
            command = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        except FileNotFoundError:
            continue
        if "recorder" in command:
            found.append((pid, command))
    return found


def test_the_recorder_starts_and_stops_with_its_worker(tmp_path, database_url, redis_client):
    worker = start_worker("bootstep", tmp_path / "worker.log")
    hostname = "bootstep@?:recorder"
    try:
        [(pid, command)] = eventually(lambda: _recorders_of(worker.process.pid), message="a recorder")
        hostname = command[command.index("--name") + 1]
        assert hostname.startswith("bootstep@") and hostname.endswith(":recorder")
        # It stops by itself if the worker is killed outright; it watches the worker's pid.
        assert command[command.index("--parent-pid") + 1] == str(worker.process.pid)
        eventually(lambda: f"{hostname} consuming tracking events" in worker.log(), message="it consumes")
    finally:
        stop_process(worker.process)  # SIGTERM: Celery's warm shutdown stops every bootstep
        with contextlib.suppress(redis.ResponseError):  # it may have led: leave the group as found
            redis_client.xgroup_delconsumer(STREAM, GROUP, hostname)
    # The bootstep waited for it and reaped it: gone the moment the worker is, not a second later
    # (the recorder's own --parent-pid check would only notice the orphan after up to 1 s).
    assert not Path(f"/proc/{pid}").exists(), "the recorder outlived its worker"
    assert worker.process.returncode == 0, worker.log()[-3000:]


def test_the_log_context_reads_job_log_ids_it_was_given_and_never_the_database(settings):
    down = settings.model_copy(update={"database_url": f"postgresql://127.0.0.1:{free_port()}/x"})
    ids = JobLogIds(down)
    assert ids.known("t-1") is None  # what the log filter asks: a dictionary read
    assert ids.resolve("t-1", "netraven.jobs.reachability_check", 12) == 12  # from the headers
    assert ids.known("t-1") == 12
    assert ids.resolve("t-2", "netraven.notifications.deliver_outbox") is None  # not a job
    started = time.monotonic()
    assert ids.resolve("t-3", "netraven.jobs.reachability_check") is None  # database down: no id
    assert time.monotonic() - started < 10
    assert ids.known("t-3") is None
