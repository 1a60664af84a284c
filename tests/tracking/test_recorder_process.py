"""`netraven-tasks recorder` runs the stream consumer as its own process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
import redis
import sqlalchemy as sa

from netraven_tasks.models import JobLog
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.stream import StreamRecorder
from tests.conftest import ROOT, SPARE_REDIS_URL, TEST_ENV, eventually

pytestmark = pytest.mark.usefixtures("clean_db")

# A Redis db of its own: the session worker's consumer leads on the test db.
RECORDER_REDIS = SPARE_REDIS_URL


def test_recorder_process_writes_streamed_events_and_stops_on_sigterm(sessions_for_test):
    client = redis.Redis.from_url(RECORDER_REDIS)
    client.flushdb()
    env = {**os.environ, **TEST_ENV, "NETRAVEN_BROKER_URL": RECORDER_REDIS}
    process = subprocess.Popen(
        [sys.executable, "-m", "netraven_tasks.cli", "recorder"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        recorder = StreamRecorder(client)
        recorder.record(TrackingEvent(EventKind.STARTED, "standalone", "reachability_check", worker="w"))
        recorder.record(TrackingEvent(EventKind.SUCCEEDED, "standalone", "reachability_check"))

        def completed() -> bool:
            with sessions_for_test() as session:
                status = session.scalar(sa.select(JobLog.status).where(JobLog.task_id == "standalone"))
            return status == "completed"

        eventually(completed, 20, "the recorder to write the standalone job", interval=0.1)
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=20)[0]
        client.flushdb()
    assert process.returncode == 0
    assert "consuming tracking events" in output


def test_recorder_refuses_to_run_without_a_redis_broker(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("NETRAVEN_")}
    env["NETRAVEN_VAR_DIR"] = str(tmp_path)
    done = subprocess.run(
        [sys.executable, "-m", "netraven_tasks.cli", "recorder"],
        env=env, cwd=ROOT, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip
    assert done.returncode == 2
    assert "redis:// NETRAVEN_BROKER_URL" in done.stderr


@pytest.fixture
def sessions_for_test(settings):
    from netraven_tasks.db import session_factory

    return session_factory(settings)
