"""What follows a batch's commits: one ``event: batch`` per batch per recorded batch of events on the
live feed (to its owner and admins only), the ``BatchSettled`` hand-off to the terminal hooks once,
and exactly one settle when two recorders commit the last children at the same time."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator

import pytest
import redis
from sqlalchemy.orm import sessionmaker

from api.stream import job_events
from netraven_tasks.access.policy import Viewer
from netraven_tasks.batches.models import Batch
from netraven_tasks.models import utcnow
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.isolation import IsolatingWriter, PendingEvent
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.recorder import after_commit
from netraven_tasks.tracking.transitions import Outcome


class Watching:
    def __init__(self, caller: Viewer):
        self.caller = caller

    def current(self) -> Viewer:
        return self.caller


@pytest.fixture
def feed(redis_client: redis.Redis) -> Iterator[LiveFeed]:
    name = f"test:live:{uuid.uuid4().hex[:8]}"
    yield LiveFeed(redis_client, stream=name)
    redis_client.delete(name)


@pytest.fixture
def sessions(settings, clean_db) -> sessionmaker:  # type: ignore[no-untyped-def, type-arg]
    from netraven_tasks.db import session_factory

    return session_factory(settings)


def new_batch(sessions: sessionmaker, size: int, owner_id: int | None = None) -> tuple[int, list[str]]:  # type: ignore[type-arg]
    now = utcnow()
    with sessions.begin() as session:
        batch = Batch(job_type="reachability_check", status="running", total=size, arguments={},
                      targets={"site": "X"}, owner_id=owner_id, created_at=now, updated_at=now)  # fmt: skip
        session.add(batch)
        session.flush()
        batch_id = batch.id
    tasks = [str(uuid.uuid4()) for _ in range(size)]
    IsolatingWriter(sessions, None, "test").write(
        [
            PendingEvent(
                TrackingEvent(
                    kind=EventKind.QUEUED,
                    task_id=task,
                    job_type="reachability_check",
                    device=f"d{i}",
                    batch_id=batch_id,
                )
            )
            for i, task in enumerate(tasks)
        ]
    )
    return batch_id, tasks


def events(kind: EventKind, tasks: list[str]) -> list[PendingEvent]:
    return [
        PendingEvent(TrackingEvent(kind=kind, task_id=task, job_type="reachability_check")) for task in tasks
    ]


def test_each_recorded_batch_publishes_one_batch_row_and_the_settle_reaches_the_hooks_once(sessions, feed):
    batch_id, tasks = new_batch(sessions, 4)
    writer = IsolatingWriter(sessions, None, "test")
    settled: list[Outcome] = []
    start = feed.last_id()

    for part in (events(EventKind.STARTED, tasks), events(EventKind.SUCCEEDED, tasks[:3])):
        after_commit(feed, [settled.append], writer.write(part))
    last = events(EventKind.FAILED, tasks[3:]) + events(EventKind.SUCCEEDED, tasks[:1])  # a duplicate too
    after_commit(feed, [settled.append], writer.write(last))
    after_commit(feed, [settled.append], writer.write(events(EventKind.FAILED, tasks)))  # late: no change

    rows = [row for _, kind, row in feed.read_events(start, block_ms=1) if kind == "batch"]
    assert [row["counts"]["completed"] for row in rows] == [0, 3, 3]  # one per commit that changed it
    assert [row["status"] for row in rows] == ["running", "running", "partial"]
    assert rows[-1]["id"] == batch_id and rows[-1]["progress"] == 1
    assert [(o.settled.batch_id, o.settled.status) for o in settled if o.settled] == [(batch_id, "partial")]


def test_the_stream_sends_batch_events_to_the_owner_and_admins_only(feed):
    start = feed.last_id()
    feed.publish_batches(
        [{"id": 5, "owner": 7, "status": "running"}, {"id": 6, "owner": 8, "status": "running"}]
    )
    mine = "".join(job_events(feed, Watching(Viewer(7, False)), start, time.monotonic() + 0.3, 0.1))
    assert "event: batch" in mine and '"id": 5' in mine and '"id": 6' not in mine
    everything = "".join(job_events(feed, Watching(Viewer(1, True)), start, time.monotonic() + 0.3, 0.1))
    assert everything.count("event: batch") == 2


def test_two_recorders_ending_the_last_children_together_settle_the_batch_once(sessions):
    for _ in range(5):
        batch_id, tasks = new_batch(sessions, 40)
        IsolatingWriter(sessions, None, "test").write(events(EventKind.STARTED, tasks))
        halves = [tasks[::2], tasks[1::2]]
        settled: list[Outcome] = []
        barrier = threading.Barrier(2)

        def record(
            part: list[str], barrier: threading.Barrier = barrier, settled: list[Outcome] = settled
        ) -> None:
            writer = IsolatingWriter(sessions, None, "test")
            barrier.wait()
            for i in range(0, len(part), 5):  # small batches, interleaved with the other recorder
                outcomes = writer.write(events(EventKind.SUCCEEDED, part[i : i + 5] + part[:1]))
                settled.extend(o for o in outcomes if o.settled)

        threads = [threading.Thread(target=record, args=(half,)) for half in halves]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert len(settled) == 1
        with sessions() as session:
            batch = session.get(Batch, batch_id)
            assert batch is not None and batch.status == "completed" and batch.completed == 40
