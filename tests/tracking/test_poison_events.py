"""One event the database refuses never stops tracking: it is made storable or dead-lettered.

Poison comes in two kinds: what sanitising repairs (NUL, lone surrogates, NaN, huge or deeply
nested results) and what the database still refuses. The second kind is produced by a trigger
the test installs (what a constraint, a full disk for one row or a bug would do) and removes to
"fix" the cause before replaying the dead letter.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
import redis
import sqlalchemy as sa
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.migrate import upgrade
from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.tracking.dead_letters import DirectoryDeadLetters, RedisDeadLetters
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.recorder import SyncRecorder
from netraven_tasks.tracking.stream import RecorderConsumer, StreamRecorder
from netraven_tasks.tracking.transitions import REJECTED_ERROR_TYPE

pytestmark = pytest.mark.usefixtures("clean_db")

MARKER = "refused-by-test-trigger"

POISON_RESULTS = [
    {"text": "nul\x00byte"},
    {"text": "lone \ud800 surrogate", "key\udfff": 1},
    {"nan": float("nan"), "inf": float("inf")},
    {"huge": 10**5000},
    {"config": "x" * 5_000_000},
    {"items": list(range(100_000))},
]


def nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": True}
    for _ in range(depth):
        value = {"next": value}
    return value


def run_events(task_id: str, result: object = None, error: str | None = None) -> list[TrackingEvent]:
    t0 = utcnow()
    end = (
        TrackingEvent(EventKind.FAILED, task_id, "reachability_check", at=t0 + timedelta(seconds=1),
                      error_type="ValueError", error_message=error)
        if error is not None
        else TrackingEvent(EventKind.SUCCEEDED, task_id, "reachability_check", at=t0 + timedelta(seconds=1),
                           result=result)  # type: ignore[arg-type]
    )  # fmt: skip
    return [TrackingEvent(EventKind.STARTED, task_id, "reachability_check", at=t0, worker="w1"), end]


def row(sessions: sessionmaker[Session], task_id: str) -> JobLog | None:
    with sessions() as session:
        job = session.scalar(sa.select(JobLog).where(JobLog.task_id == task_id))
        if job is not None:
            session.expunge(job)
        return job


@pytest.fixture
def pg_sessions(settings) -> sessionmaker[Session]:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import session_factory

    return session_factory(settings)


@pytest.fixture
def sqlite_sessions(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    engine = sa.create_engine(url)
    yield sessionmaker(engine, expire_on_commit=False)
    engine.dispose()


def refuse_marker(sessions: sessionmaker[Session]) -> None:
    """Make the database refuse any job-log row whose error message carries MARKER."""
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text(
                "CREATE OR REPLACE FUNCTION refuse_marker() RETURNS trigger AS $$ BEGIN "
                f"IF NEW.error_message LIKE '%{MARKER}%' THEN RAISE EXCEPTION 'row refused'; END IF; "
                "RETURN NEW; END $$ LANGUAGE plpgsql"
            ))  # fmt: skip
            session.execute(sa.text(
                "CREATE TRIGGER refuse_marker BEFORE INSERT OR UPDATE ON job_logs "
                "FOR EACH ROW EXECUTE FUNCTION refuse_marker()"
            ))  # fmt: skip
        else:
            for operation in ("INSERT", "UPDATE"):
                session.execute(sa.text(
                    f"CREATE TRIGGER refuse_marker_{operation.lower()} BEFORE {operation} ON job_logs "
                    f"WHEN NEW.error_message LIKE '%{MARKER}%' BEGIN SELECT RAISE(ABORT, 'row refused'); END"
                ))  # fmt: skip


def accept_marker(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        if session.get_bind().dialect.name == "postgresql":
            session.execute(sa.text("DROP TRIGGER IF EXISTS refuse_marker ON job_logs"))
        else:
            for operation in ("insert", "update"):
                session.execute(sa.text(f"DROP TRIGGER IF EXISTS refuse_marker_{operation}"))


@pytest.fixture
def stream(redis_client: redis.Redis) -> Iterator[str]:
    name = f"test:tracking:{uuid.uuid4().hex[:8]}"
    yield name
    redis_client.delete(name)


@pytest.fixture
def dead_letters(redis_client: redis.Redis) -> Iterator[RedisDeadLetters]:
    name = f"test:dead:{uuid.uuid4().hex[:8]}"
    yield RedisDeadLetters(redis_client, name)
    redis_client.delete(name)


def stream_consumer(client, sessions, stream, dead_letters, hooks=()) -> RecorderConsumer:  # type: ignore[no-untyped-def]
    consumer = RecorderConsumer(
        client, sessions, "c1", hooks, stream=stream, batch_size=100, block_ms=10, dead_letters=dead_letters
    )
    assert consumer.lead()
    return consumer


def drain(consumer: RecorderConsumer) -> None:
    while consumer.drain_once(block_ms=10):
        pass


@pytest.mark.parametrize("result", [*POISON_RESULTS, nested(5_000)], ids=lambda r: str(next(iter(r))))
def test_stream_writes_sanitised_results_and_the_next_job(
    redis_client, pg_sessions, stream, dead_letters, result
):
    recorder = StreamRecorder(redis_client, stream)
    for event in [*run_events("odd", result=result), *run_events("next")]:
        recorder.record(event)
    drain(stream_consumer(redis_client, pg_sessions, stream, dead_letters))
    odd, following = row(pg_sessions, "odd"), row(pg_sessions, "next")
    assert odd is not None and odd.status == "completed"
    assert following is not None and following.status == "completed"
    assert dead_letters.count() == 0, "sanitising repaired it: nothing to dead-letter"
    assert redis_client.xlen(stream) == 0


def test_error_text_with_nul_and_surrogates_is_stored_readably(
    redis_client, pg_sessions, stream, dead_letters
):
    recorder = StreamRecorder(redis_client, stream)
    for event in run_events("bad-error", error="device said \x00\ud83d then hung up"):
        recorder.record(event)
    drain(stream_consumer(redis_client, pg_sessions, stream, dead_letters))
    job = row(pg_sessions, "bad-error")
    assert job is not None and job.status == "failed"
    assert job.error_message == "device said \N{REPLACEMENT CHARACTER}? then hung up"


def test_refused_event_is_dead_lettered_its_run_fails_and_the_batch_goes_on(
    redis_client, pg_sessions, stream, dead_letters
):
    outcomes = []
    consumer = stream_consumer(redis_client, pg_sessions, stream, dead_letters, hooks=[outcomes.append])
    recorder = StreamRecorder(redis_client, stream)
    events = []
    for i in range(30):
        events += run_events(f"good{i}")
        if i == 17:
            events += run_events("poison", error=f"{MARKER}: the database will refuse this")
    for event in events:
        recorder.record(event)
    refuse_marker(pg_sessions)
    try:
        drain(consumer)
    finally:
        accept_marker(pg_sessions)
    assert all(row(pg_sessions, f"good{i}").status == "completed" for i in range(30))  # type: ignore[union-attr]
    poison = row(pg_sessions, "poison")
    assert poison is not None and poison.status == "failed"
    assert poison.error_type == REJECTED_ERROR_TYPE
    assert "failed event" in (poison.error_message or "") and "dead letter" in (poison.error_message or "")
    [letter] = dead_letters.list()
    assert letter.fields()["task_id"] == "poison" and "row refused" in letter.error
    assert redis_client.xlen(stream) == 0, "every entry is acknowledged: written or dead-lettered"
    assert sum(1 for o in outcomes if o.became_terminal) == 31, "the poison run is notified as failed once"

    # After the fix (trigger gone), the operator replays it: the run takes its real outcome.
    from netraven_tasks.tracking.replay import replay_dead_letter

    replayed = replay_dead_letter(dead_letters, consumer.sessions, letter.id)
    assert replayed is not None
    poison = row(pg_sessions, "poison")
    assert poison is not None and poison.status == "failed" and poison.error_type == "ValueError"
    assert dead_letters.count() == 0


def test_unreadable_entry_is_dead_lettered_and_the_rest_written(
    redis_client, pg_sessions, stream, dead_letters
):
    redis_client.xadd(stream, {"event": b"{not json\xff"})
    recorder = StreamRecorder(redis_client, stream)
    for event in run_events("after-garbage"):
        recorder.record(event)
    drain(stream_consumer(redis_client, pg_sessions, stream, dead_letters))
    assert row(pg_sessions, "after-garbage").status == "completed"  # type: ignore[union-attr]
    [letter] = dead_letters.list()
    assert "unreadable tracking entry" in letter.error and "not json" in letter.event


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_sync_path_fails_the_refused_run_and_records_the_next(database, request, tmp_path):
    sessions = request.getfixturevalue("pg_sessions" if database == "postgresql" else "sqlite_sessions")
    letters = DirectoryDeadLetters(tmp_path / "dead-letters")
    recorder = SyncRecorder(sessions, dead_letters=letters)
    refuse_marker(sessions)
    try:
        for event in run_events("sync-poison", error=f"{MARKER} here"):
            recorder.record(event)
        for event in run_events("sync-next", result={"text": "nul\x00 and \udc80"}):
            recorder.record(event)
    finally:
        accept_marker(sessions)
    poison, following = row(sessions, "sync-poison"), row(sessions, "sync-next")
    assert poison is not None and poison.status == "failed" and poison.error_type == REJECTED_ERROR_TYPE
    assert following is not None and following.status == "completed"
    assert following.result == {"text": "nul\N{REPLACEMENT CHARACTER} and ?"}
    [letter] = letters.list()
    assert letter.fields()["kind"] == "failed"
    from netraven_tasks.tracking.replay import replay_dead_letter

    assert replay_dead_letter(letters, sessions, letter.id) is not None
    assert row(sessions, "sync-poison").error_type == "ValueError"  # type: ignore[union-attr]
    assert letters.count() == 0


def test_outage_is_not_mistaken_for_poison(redis_client, stream, dead_letters, pg_sessions):
    recorder = StreamRecorder(redis_client, stream)
    for event in run_events("during-outage"):
        recorder.record(event)
    down = sessionmaker(sa.create_engine("postgresql+psycopg2://postgres@127.0.0.1:1/none"))
    consumer = stream_consumer(redis_client, down, stream, dead_letters)
    with pytest.raises(sa.exc.OperationalError):
        consumer.drain_once(block_ms=10)
    assert dead_letters.count() == 0
    assert redis_client.xpending(stream, "recorder")["pending"] == 2
    consumer.sessions = pg_sessions
    drain(consumer)
    assert row(pg_sessions, "during-outage").status == "completed"  # type: ignore[union-attr]


# Arbitrary JSON-ish values: text of any code point (NUL and lone surrogates included), bytes seen
# as text, numbers of any size, and nesting.
_text = st.text(alphabet=st.characters(min_codepoint=0, max_codepoint=0x10FFFF), max_size=300)
_bytes_as_text = st.binary(max_size=200).map(lambda b: b.decode("utf-8", "surrogateescape"))
_leaf = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=True), _text, _bytes_as_text)
_json = st.recursive(
    _leaf,
    lambda inner: st.one_of(st.lists(inner, max_size=5), st.dictionaries(_text, inner, max_size=5)),
    max_leaves=40,
)


@pytest.mark.parametrize("database", ["postgresql", "sqlite"])
def test_any_odd_event_never_stops_the_next_job(database, request, tmp_path):
    sessions = request.getfixturevalue("pg_sessions" if database == "postgresql" else "sqlite_sessions")
    letters = DirectoryDeadLetters(tmp_path / "dead-letters")
    recorder = SyncRecorder(sessions, dead_letters=letters)

    @hypothesis_settings(
        max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
    )
    @given(result=_json, error=st.one_of(_text, _bytes_as_text), device=_text, worker=_text)
    def check(result: object, error: str, device: str, worker: str) -> None:
        odd, following = f"odd-{uuid.uuid4().hex}", f"next-{uuid.uuid4().hex}"
        t0 = utcnow()
        recorder.record(
            TrackingEvent(
                EventKind.QUEUED,
                odd,
                "reachability_check",
                at=t0,
                device=device,
                args={"host": device, "payload": result},
            )
        )  # type: ignore[dict-item]
        recorder.record(TrackingEvent(EventKind.STARTED, odd, "reachability_check", at=t0, worker=worker))
        recorder.record(
            TrackingEvent(
                EventKind.FAILED,
                odd,
                "reachability_check",
                at=t0,
                error_type=error,
                error_message=error,
                traceback=error,
            )
        )
        for event in run_events(following, result=result):
            recorder.record(event)
        odd_row, next_row = row(sessions, odd), row(sessions, following)
        assert odd_row is not None and odd_row.status == "failed"
        assert next_row is not None and next_row.status == "completed"

    check()
    assert letters.count() == 0, "sanitising alone made every one of them storable"
