"""NETRAVEN_TRACKING_PARTITIONS: a job's events stay in one partition; each partition has its leader."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections import Counter

import pytest
import sqlalchemy as sa

from netraven_tasks.models import JobLog
from netraven_tasks.tracking.stream import (
    RecorderConsumer,
    StreamRecorder,
    partition_of,
    partition_stream,
    partition_streams,
)
from tests.conftest import ROOT, SPARE_REDIS_URL, TEST_ENV, eventually
from tests.tracking.test_stream import job_events

pytestmark = pytest.mark.usefixtures("clean_db")


def test_partition_is_stable_and_spreads_task_ids():
    ids = [f"task-{i}" for i in range(1000)]
    assert [partition_of(t, 4) for t in ids] == [partition_of(t, 4) for t in ids]
    spread = Counter(partition_of(t, 4) for t in ids)
    assert set(spread) == {0, 1, 2, 3} and min(spread.values()) > 150
    assert partition_of("anything", 1) == 0 and partition_stream(0) == "netraven:tracking"


def test_two_partitions_are_written_by_two_leaders_at_once(settings, spare_redis):
    from netraven_tasks.db import session_factory

    client = spare_redis
    recorder = StreamRecorder(client, partitions=2)
    for i in range(100):
        for event in job_events(f"part{i}"):
            recorder.record(event)
    lengths = [client.xlen(stream) for stream in partition_streams(2)]
    assert sum(lengths) == 200 and min(lengths) > 40, "both partitions get events"
    for stream in partition_streams(2):  # every job's two events are in the same partition
        tasks = Counter(
            e[1][b"event"].split(b'"task_id": "')[1].split(b'"')[0] for e in client.xrange(stream)
        )
        assert set(tasks.values()) == {2}
    consumers = [
        RecorderConsumer(client, session_factory(settings), f"c{p}", stream=partition_stream(p), block_ms=10)
        for p in range(2)
    ]
    assert all(c.lead() for c in consumers), "one leader per partition, both at once"
    for consumer in consumers:
        while consumer.drain_once(block_ms=10):
            pass
    with session_factory(settings)() as session:
        statuses = Counter(session.scalars(sa.select(JobLog.status)))
    assert statuses == {"completed": 100}


def test_recorder_process_serves_every_partition(settings, spare_redis):
    from netraven_tasks.db import session_factory

    client = spare_redis
    env = {
        **os.environ,
        **TEST_ENV,
        "NETRAVEN_BROKER_URL": SPARE_REDIS_URL,
        "NETRAVEN_TRACKING_PARTITIONS": "3",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "netraven_tasks.cli", "recorder"],
        env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    try:
        recorder = StreamRecorder(client, partitions=3)
        for i in range(30):
            for event in job_events(f"served{i}"):
                recorder.record(event)

        def completed() -> bool:
            with session_factory(settings)() as session:
                return session.scalar(sa.select(sa.func.count()).where(JobLog.status == "completed")) == 30

        eventually(completed, timeout=30, message="every partition written")
    finally:
        process.send_signal(signal.SIGTERM)
        output = process.communicate(timeout=30)[0]
    assert process.returncode == 0, output
    assert "partition(s) [0, 1, 2]" in output
