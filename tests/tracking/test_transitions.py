"""The recorder's state machine: order-tolerant, idempotent, and terminal statuses are final."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.recorder import SyncRecorder
from netraven_tasks.tracking.storable import JSON_LIMIT as RESULT_LIMIT
from netraven_tasks.tracking.transitions import Outcome, result_summary

pytestmark = pytest.mark.usefixtures("clean_db")

T0 = utcnow()


def event(kind: EventKind, retries: int = 0, seconds: float = 0, **fields) -> TrackingEvent:
    return TrackingEvent(
        kind=kind,
        task_id="task-1",
        job_type="reachability_check",
        at=T0 + timedelta(seconds=seconds),
        retries=retries,
        **fields,
    )


@pytest.fixture
def terminal_outcomes() -> list[Outcome]:
    return []


@pytest.fixture
def recorder(settings, terminal_outcomes):
    from netraven_tasks.db import session_factory

    return SyncRecorder(session_factory(settings), on_terminal=[terminal_outcomes.append])


def job(db_session) -> JobLog:
    db_session.expire_all()
    return db_session.scalars(select(JobLog).where(JobLog.task_id == "task-1")).one()


def test_a_retried_job_keeps_one_row_and_counts_attempts(recorder, db_session, terminal_outcomes):
    recorder.record(event(EventKind.QUEUED, device="r1", args={"host": "r1"}))
    recorder.record(event(EventKind.STARTED, 0, 1, worker="w1"))
    recorder.record(
        event(EventKind.RETRY_SCHEDULED, 0, 2, error_type="TimeoutError", error_message="slow",
              next_retry_at=T0 + timedelta(seconds=7))
    )  # fmt: skip
    assert job(db_session).status == "retrying"
    recorder.record(event(EventKind.STARTED, 1, 7, worker="w2"))
    recorder.record(event(EventKind.SUCCEEDED, 1, 9, result={"latency_ms": 3}))
    row = job(db_session)
    assert (row.status, row.attempts, row.worker) == ("completed", 2, "w2")
    assert row.duration_seconds == pytest.approx(8.0)
    assert row.error_type is None and row.next_retry_at is None
    assert [e.event for e in row.entries] == [
        "queued", "started", "retry_scheduled", "started", "succeeded"
    ]  # fmt: skip
    assert [(o.status, o.became_terminal) for o in terminal_outcomes] == [("completed", True)]


def test_duplicate_and_late_events_change_nothing(recorder, db_session, terminal_outcomes):
    recorder.record(event(EventKind.QUEUED))
    recorder.record(event(EventKind.QUEUED))
    recorder.record(event(EventKind.STARTED, 0, 1))
    recorder.record(event(EventKind.FAILED, 0, 2, error_type="ValueError", error_message="x"))
    recorder.record(event(EventKind.FAILED, 0, 3, error_type="ValueError", error_message="x"))
    recorder.record(event(EventKind.SUCCEEDED, 0, 4))
    row = job(db_session)
    assert row.status == "failed" and row.attempts == 1
    assert [e.event for e in row.entries if e.level != "debug"] == ["queued", "started", "failed"]
    assert len(terminal_outcomes) == 1, "notifications fire once, on the final outcome"


def test_retry_signal_arriving_after_the_next_attempt_started_is_stale(recorder, db_session):
    recorder.record(event(EventKind.QUEUED))
    recorder.record(event(EventKind.STARTED, 0, 1))
    recorder.record(event(EventKind.STARTED, 1, 2))  # the retry ran before its signal was seen
    recorder.record(event(EventKind.RETRY_SCHEDULED, 0, 3, error_type="TimeoutError"))
    assert job(db_session).status == "running"


def test_started_without_queued_still_makes_the_row(recorder, db_session):
    recorder.record(event(EventKind.STARTED, 0, 1, device="r7"))
    row = job(db_session)
    assert (row.status, row.attempts, row.device) == ("running", 1, "r7")


def test_redelivered_attempt_counts_as_another_attempt(recorder, db_session):
    recorder.record(event(EventKind.QUEUED))
    recorder.record(event(EventKind.STARTED, 0, 1))
    recorder.record(event(EventKind.STARTED, 0, 5))  # worker lost, message delivered again
    recorder.record(event(EventKind.SUCCEEDED, 0, 6))
    row = job(db_session)
    assert (row.status, row.attempts) == ("completed", 2)


def test_revoked_job_is_canceled(recorder, db_session):
    recorder.record(event(EventKind.QUEUED))
    recorder.record(event(EventKind.REVOKED, error_message="revoked"))
    assert job(db_session).status == "canceled"


def test_huge_results_and_errors_are_truncated(recorder, db_session):
    recorder.record(event(EventKind.QUEUED))
    recorder.record(event(EventKind.STARTED, 0, 1))
    recorder.record(event(EventKind.FAILED, 0, 2, error_type="E", error_message="x" * 100_000,
                          traceback="frame\n" * 100_000))  # fmt: skip
    row = job(db_session)
    assert len(row.error_message) <= 2_000
    assert len(row.entries[-1].details["traceback"]) <= 8_100


def test_result_summary_wraps_and_truncates():
    assert result_summary({"a": 1}) == {"a": 1}
    assert result_summary([1, 2]) == {"value": [1, 2]}
    assert result_summary(None) is None
    big = result_summary({"config": "x" * (RESULT_LIMIT * 2)})
    assert big["truncated"] is True and len(big["preview"]) == RESULT_LIMIT


def test_a_failing_terminal_hook_does_not_lose_the_row(settings, db_session):
    from netraven_tasks.db import session_factory

    def broken_hook(outcome: Outcome) -> None:
        raise RuntimeError("broker down")

    recorder = SyncRecorder(session_factory(settings), on_terminal=[broken_hook])
    recorder.record(event(EventKind.QUEUED))
    recorder.record(event(EventKind.STARTED, 0, 1))
    recorder.record(event(EventKind.SUCCEEDED, 0, 2))
    assert job(db_session).status == "completed"


def test_event_round_trips_through_a_dict():
    original = event(EventKind.RETRY_SCHEDULED, 2, 3, next_retry_at=T0, error_type="E")
    assert TrackingEvent.from_dict(original.to_dict()) == original


def test_copy_keeps_tabs_backslashes_and_newlines_as_data(recorder, db_session):
    """Entries go to PostgreSQL by COPY: its text format's special characters stay text."""
    hostile = "a\tb\\N\nc\r\\.\n\\x41 'quoted'; DROP TABLE job_logs; --"
    recorder.record(event(EventKind.STARTED, 0, 1, worker="w\t1"))
    recorder.record(event(EventKind.FAILED, 0, 2, error_type="Boom", error_message=hostile))
    row = job(db_session)
    assert (row.status, row.worker, row.error_message) == ("failed", "w\t1", hostile)
    messages = [entry.message for entry in row.entries]
    assert messages[-1] == f"failed after 1 attempt(s): Boom: {hostile}"
    assert row.entries[1].details == {"worker": "w\t1"}


def test_a_row_created_while_a_batch_runs_gets_the_batch_applied_once(settings, db_session):
    """The batch saw no row, then another transaction committed one before its INSERT: the
    batch's events are applied to that row (not dropped, not applied twice)."""
    import threading

    from netraven_tasks.db import session_factory
    from netraven_tasks.tracking.transitions import apply_events

    sessions = session_factory(settings)
    launcher = sessions()
    launcher.add(
        JobLog(task_id="task-1", job_type="reachability_check", status="queued", attempts=0,
               celery_retries=0, queued_at=T0, updated_at=T0)
    )  # fmt: skip
    launcher.flush()  # inserted, not committed: the batch's SELECT cannot see it, its INSERT waits
    done: list[Outcome] = []

    def batch() -> None:
        with sessions.begin() as session:
            done.extend(apply_events(session, [event(EventKind.STARTED, 0, 1, worker="w1")]))

    writer = threading.Thread(target=batch)
    writer.start()
    writer.join(1.0)
    assert writer.is_alive(), "the batch's INSERT should wait for the uncommitted row"
    launcher.commit()
    writer.join(30)
    launcher.close()
    row = job(db_session)
    assert (row.status, row.attempts, row.worker) == ("running", 1, "w1")
    assert [entry.message for entry in row.entries] == ["attempt 1 started"]
    assert [outcome.job_log_id for outcome in done] == [row.id]


def test_a_start_replayed_after_its_retry_does_not_reopen_the_attempt(recorder, db_session):
    # The start was spooled while Redis and the database were down; its retry went through first.
    recorder.record(event(EventKind.QUEUED))
    recorder.record(
        event(EventKind.RETRY_SCHEDULED, 0, 2, error_type="TimeoutError", error_message="slow",
              next_retry_at=T0 + timedelta(seconds=7))
    )  # fmt: skip
    recorder.record(event(EventKind.STARTED, 0, 1, worker="w1"))  # replayed from the spool
    row = job(db_session)
    assert (row.status, row.attempts) == ("retrying", 0), "the row never goes back to running"
    recorder.record(event(EventKind.STARTED, 1, 7, worker="w2"))  # the next attempt still counts
    recorder.record(event(EventKind.SUCCEEDED, 1, 9))
    row = job(db_session)
    assert (row.status, row.attempts, row.worker) == ("completed", 1, "w2")


def test_a_deferral_keeps_the_status_and_attempts_and_notes_the_wait(recorder, db_session):
    recorder.record(event(EventKind.QUEUED, device="r1"))
    recorder.record(event(EventKind.DEFERRED, 0, 1, device="r1", next_retry_at=T0 + timedelta(seconds=3.5)))
    row = job(db_session)
    assert (row.status, row.attempts, row.updated_at) == ("queued", 0, T0), "nothing but an entry"
    assert row.entries[-1].event == "deferred"
    assert row.entries[-1].message.startswith("waiting 2.5s: device r1 is busy")
    assert row.entries[-1].details["next_try_at"] == (T0 + timedelta(seconds=3.5)).isoformat()
    recorder.record(event(EventKind.STARTED, 0, 4, worker="w1"))
    recorder.record(event(EventKind.SUCCEEDED, 0, 5))
    row = job(db_session)
    assert (row.status, row.attempts) == ("completed", 1)


def test_a_deferred_retry_stays_retrying_and_is_due_later(recorder, db_session):
    recorder.record(event(EventKind.QUEUED, device="r1"))
    recorder.record(event(EventKind.STARTED, 0, 1, worker="w1"))
    recorder.record(
        event(EventKind.RETRY_SCHEDULED, 0, 2, error_type="TimeoutError", error_message="slow",
              next_retry_at=T0 + timedelta(seconds=7))
    )  # fmt: skip
    recorder.record(event(EventKind.DEFERRED, 1, 7, device="r1", next_retry_at=T0 + timedelta(seconds=9)))
    row = job(db_session)
    assert (row.status, row.attempts, row.next_retry_at) == ("retrying", 1, T0 + timedelta(seconds=9))
