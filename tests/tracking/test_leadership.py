"""Two recorders fighting for one stream, one of them slow: no event written twice, none lost."""

from __future__ import annotations

import threading
import time
import uuid
from collections import Counter

import pytest
import redis
import sqlalchemy as sa
from sqlalchemy.orm import sessionmaker

from netraven_tasks.models import JobLog, JobLogEntry
from netraven_tasks.tracking.fencing import FENCE_COUNTER
from netraven_tasks.tracking.stream import GROUP, RecorderConsumer, StreamRecorder
from tests.conftest import eventually
from tests.tracking.test_stream import job_events

pytestmark = pytest.mark.usefixtures("clean_db")

JOBS = 300


@pytest.fixture
def stream(redis_client: redis.Redis):
    name = f"test:tracking:{uuid.uuid4().hex[:8]}"
    yield name
    redis_client.delete(name, f"{FENCE_COUNTER}:{name}")


def test_a_deposed_slow_leader_never_writes_twice_and_nothing_is_lost(redis_client, settings, stream, caplog):
    from netraven_tasks.db import session_factory

    recorder = StreamRecorder(redis_client, stream)
    for i in range(JOBS):
        for event in job_events(f"fight{i}"):
            recorder.record(event)
    # The slow recorder stalls 1.2 s at the start of every transaction: its 0.5 s lock expires
    # mid-batch, the other takes over, and the slow one wakes up to commit what it had read.
    slow_engine = sa.create_engine(settings.database_url)
    sa.event.listen(slow_engine, "begin", lambda connection: time.sleep(1.2))
    recorders = [
        RecorderConsumer(redis_client, sessionmaker(slow_engine), "slow", stream=stream, batch_size=50,
                         block_ms=50, leader_ttl_seconds=0.5),
        RecorderConsumer(redis_client, session_factory(settings), "quick", stream=stream, batch_size=50,
                         block_ms=50, leader_ttl_seconds=0.5),
    ]  # fmt: skip
    stop = threading.Event()
    threads = [threading.Thread(target=r.run, args=(stop,)) for r in recorders]
    for thread in threads:
        thread.start()
        time.sleep(0.05)  # the slow one leads first
    sessions = session_factory(settings)
    try:

        def all_recorded() -> bool:
            with sessions() as session:
                done = session.scalar(sa.select(sa.func.count()).where(JobLog.status == "completed"))
            return done == JOBS and redis_client.xlen(stream) == 0

        eventually(all_recorded, 60, "every job recorded", interval=0.2)
        time.sleep(1.5)  # a deposed leader still asleep gets its chance to (wrongly) commit
    finally:
        stop.set()
        for thread in threads:
            thread.join(10)
        slow_engine.dispose()

    with sessions() as session:
        jobs = {task_id: (status, attempts) for task_id, status, attempts in session.execute(
            sa.select(JobLog.task_id, JobLog.status, JobLog.attempts))}  # fmt: skip
        entries = Counter(session.execute(sa.select(JobLogEntry.event)).scalars())
    assert len(jobs) == JOBS, "none lost"
    assert set(jobs.values()) == {("completed", 1)}, "no attempt counted twice"
    # Per job: "queued (published before tracking saw it)" and "attempt 1 started", then "completed".
    assert entries == {"started": 2 * JOBS, "succeeded": JOBS}, "no event written twice"
    assert redis_client.xlen(stream) == 0
    assert redis_client.xpending(stream, GROUP)["pending"] == 0
    terms = int(redis_client.get(f"{FENCE_COUNTER}:{stream}") or 0)
    assert terms >= 2, f"the leadership changed hands (terms drawn: {terms})"
    assert "recorder slow: a newer leader writes" in caplog.text, "the slow leader was fenced off"
