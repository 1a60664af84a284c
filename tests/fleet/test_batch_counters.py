"""The batch counters against a recount of the children, on random event histories (duplicates,
late and out-of-order events, random recorder batches), through the recorder's real write path, on
PostgreSQL and on SQLite; and the batch settles exactly once, when its last child ends."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.batches.models import ACTIVE_COUNTERS, COUNTED, Batch
from netraven_tasks.models import JobLog
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.isolation import IsolatingWriter, PendingEvent

T0 = datetime(2026, 12, 1, tzinfo=UTC)
KINDS = [
    EventKind.STARTED, EventKind.RETRY_SCHEDULED, EventKind.SUCCEEDED, EventKind.FAILED,
    EventKind.REVOKED, EventKind.REAPED, EventKind.QUEUED,
]  # fmt: skip

# (child index, event kind, attempt (Celery's retries), seconds after T0)
event_plan = st.tuples(st.integers(0, 5), st.sampled_from(KINDS), st.integers(0, 2), st.integers(0, 600))
history = st.fixed_dictionaries(
    {
        "children": st.integers(1, 6),
        "events": st.lists(event_plan, max_size=40),
        "chunks": st.lists(st.integers(1, 8), min_size=1, max_size=10),
        "duplicates": st.lists(st.integers(0, 39), max_size=10),
    }
)


def _event(task_id: str, kind: EventKind, retries: int, seconds: int) -> TrackingEvent:
    return TrackingEvent(
        kind=kind,
        task_id=task_id,
        job_type="reachability_check",
        at=T0 + timedelta(seconds=seconds),
        retries=retries,
        error_type="Boom"
        if kind in {EventKind.FAILED, EventKind.REAPED, EventKind.RETRY_SCHEDULED}
        else None,
        error_message="boom",
    )


def check_history(engine: sa.Engine, case: dict[str, Any]) -> None:
    sessions = sessionmaker(engine)
    writer = IsolatingWriter(sessions, None, source="test")
    with sessions.begin() as session:
        batch = Batch(job_type="reachability_check", status="running", total=case["children"], arguments={},
                      targets={"site": "X"}, created_at=T0, updated_at=T0)  # fmt: skip
        session.add(batch)
        session.flush()
        batch_id = batch.id
    tasks = [str(uuid.uuid4()) for _ in range(case["children"])]
    queued = [
        TrackingEvent(
            kind=EventKind.QUEUED,
            task_id=task_id,
            job_type="reachability_check",
            at=T0,
            device=f"d{i}",
            args={"host": f"d{i}"},
            batch_id=batch_id,
        )
        for i, task_id in enumerate(tasks)
    ]
    settled = [
        outcome.settled for outcome in writer.write([PendingEvent(e) for e in queued]) if outcome.settled
    ]

    events = [_event(tasks[i % len(tasks)], kind, retries, at) for i, kind, retries, at in case["events"]]
    for index in case["duplicates"]:  # redelivered: the same event again, later in the stream
        if index < len(events):
            events.append(events[index])
    chunks = iter(case["chunks"] * (len(events) + 1))
    while events:
        size = next(chunks)
        part, events = events[:size], events[size:]
        outcomes = writer.write([PendingEvent(event) for event in part])
        settled += [outcome.settled for outcome in outcomes if outcome.settled]
        assert_counts_match(sessions, batch_id, case["children"])

    with sessions() as session:
        row = session.get(Batch, batch_id)
        assert row is not None
        active = sum(getattr(row, name) for name in ACTIVE_COUNTERS)
        assert len(settled) == (1 if active == 0 else 0)  # exactly once, and only when over
        assert (row.status != "running") == (active == 0) == (row.finished_at is not None)
        if settled:
            assert settled[0].batch_id == batch_id and settled[0].status == row.status


def assert_counts_match(sessions: sessionmaker[Session], batch_id: int, total: int) -> None:
    with sessions() as session:
        row = session.get(Batch, batch_id)
        assert row is not None
        recount = dict(
            session.execute(
                sa.select(JobLog.status, sa.func.count())
                .where(JobLog.batch_id == batch_id)
                .group_by(JobLog.status)
            ).all()
        )
        assert {name: getattr(row, name) for name in COUNTED} == {
            name: recount.get(name, 0) for name in COUNTED
        }
        assert sum(recount.values()) == total


@pytest.fixture(scope="module")
def sqlite_engine(tmp_path_factory) -> Iterator[sa.Engine]:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import make_engine
    from netraven_tasks.migrate import upgrade

    url = f"sqlite:///{tmp_path_factory.mktemp('batches') / 'batches.db'}"
    upgrade(url)
    engine = make_engine(url)
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_engine(settings, clean_db) -> sa.Engine:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import get_engine

    return get_engine(settings)


SETTINGS = settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@SETTINGS
@given(case=history)
def test_batch_counters_match_a_recount_on_postgresql(postgres_engine, case):
    check_history(postgres_engine, case)


@SETTINGS
@given(case=history)
def test_batch_counters_match_a_recount_on_sqlite(sqlite_engine, case):
    check_history(sqlite_engine, case)
