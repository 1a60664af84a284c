"""Writing events so that one the database refuses stops nobody: bisect, dead-letter, fail its run.

A batch is written in one transaction. If that fails while the database answers, the batch is
split in halves and each written on its own, down to single events; a single event that still
fails is retried once (a deadlock or a lock timeout passes), then moved to the dead letters with
its error, and its run is marked ``failed`` by a ``rejected`` event that says why. If the
database does not answer, the error is raised: an outage delays rows, it dead-letters nothing.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import exc, text
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.tracking.dead_letters import DeadLetters, encode_event
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.fencing import Fence, LostLeadership, entry_key
from netraven_tasks.tracking.storable import storable_text
from netraven_tasks.tracking.transitions import REJECTED_ERROR_TYPE, Outcome, apply_events

log = logging.getLogger(__name__)

ERROR_LIMIT = 500


@dataclass(frozen=True)
class PendingEvent:
    """An event to write and what identifies it where it came from (a stream id, or none)."""

    event: TrackingEvent
    ref: bytes | None = None
    redelivered: bool = False  # read again from a pending list: an earlier leader may have written it


# Called after each commit with the items just written (the consumer acknowledges them).
Committed = Callable[[Sequence[PendingEvent]], None]


class BatchPlanner(Protocol):
    """Work done in each write transaction on its outcomes (notification planning), and after."""

    def plan(self, session: Session, outcomes: Sequence[Outcome]) -> Any: ...

    def after_commit(self, plan: Any) -> None: ...


def _written_before(item: PendingEvent, written: tuple[int, int] | None) -> bool:
    """An adopted entry at or before the last committed one was written by an earlier leader."""
    return (
        item.redelivered and item.ref is not None and written is not None and entry_key(item.ref) <= written
    )


def describe_error(error: BaseException) -> str:
    """One storable line: the error's type and the first line of its message."""
    first = (str(error).strip().splitlines() or [""])[0]
    return storable_text(f"{type(error).__name__}: {first}", ERROR_LIMIT)


class IsolatingWriter:
    """Writes events in as few transactions as the database allows; isolates the ones it refuses."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        dead_letters: DeadLetters | None,
        source: str,
        fence: Fence | None = None,
        planner: BatchPlanner | None = None,
    ):
        self.sessions = sessions
        self._dead_letters = dead_letters
        self._source = source
        self._fence = fence
        self._planner = planner

    def write(self, pending: Sequence[PendingEvent], committed: Committed | None = None) -> list[Outcome]:
        """Write ``pending`` in order; ``committed`` hears of each part as soon as it is committed."""
        if not pending:
            return []
        try:
            outcomes = self._commit(pending)
        except LostLeadership:
            raise
        except Exception as error:
            if not self.database_answers():
                raise
            if len(pending) > 1:
                middle = len(pending) // 2
                return self.write(pending[:middle], committed) + self.write(pending[middle:], committed)
            return self._isolate(pending[0], error, committed)
        if committed is not None:
            committed(pending)
        return outcomes

    def _commit(self, items: Sequence[PendingEvent], *, reopen_rejected: bool = False) -> list[Outcome]:
        with self.sessions.begin() as session:
            written = None
            if self._fence is not None:
                # Fenced: the first statement holds the stream's fence row until the commit.
                written = self._fence.enter(session)
            todo = [item for item in items if not _written_before(item, written)]
            outcomes = apply_events(session, [item.event for item in todo], reopen_rejected=reopen_rejected)
            refs = [item.ref for item in items if item.ref is not None]
            if self._fence is not None and refs:
                newest = max(refs, key=entry_key)
                if written is None or entry_key(newest) > written:
                    self._fence.advance(session, newest)
            plan = self._planner.plan(session, outcomes) if self._planner is not None else None
        if self._planner is not None:
            self._planner.after_commit(plan)
        return outcomes

    def database_answers(self) -> bool:
        try:
            with self.sessions() as session:
                session.execute(text("SELECT 1"))
        except Exception:
            return False
        return True

    def _isolate(self, item: PendingEvent, error: Exception, committed: Committed | None) -> list[Outcome]:
        if isinstance(error, exc.OperationalError):  # a deadlock or lock timeout: once more
            try:
                outcomes = self._commit([item])
            except LostLeadership:
                raise
            except Exception as second:
                error = second
            else:
                if committed is not None:
                    committed([item])
                return outcomes
        return self.reject(item, describe_error(error), committed)

    def reject(self, item: PendingEvent, reason: str, committed: Committed | None = None) -> list[Outcome]:
        """Dead-letter the event, then fail its run with a message that says why and where it is."""
        event = item.event
        letter = (
            self._dead_letters.add(encode_event(event), reason, self._source) if self._dead_letters else "-"
        )
        log.error(
            "tracking event %s of task %s dead-lettered as %s: %s", event.kind, event.task_id, letter, reason
        )
        rejected = TrackingEvent(
            kind=EventKind.REJECTED,
            task_id=event.task_id,
            job_type=event.job_type,
            at=event.at,
            error_type=REJECTED_ERROR_TYPE,
            error_message=(
                f"the database refused this run's {event.kind.value} event ({reason}); "
                f"it is kept as dead letter {letter}"
            ),
        )
        try:
            outcomes = self._commit([PendingEvent(rejected, item.ref, item.redelivered)])
        except LostLeadership:
            raise
        except Exception:
            # The dead letter stays; an operator sees it (and the reaper settles the run).
            log.exception("could not mark task %s failed after its event was rejected", event.task_id)
            outcomes = []
        if committed is not None:
            committed([item])
        return outcomes

    def replay(self, event: TrackingEvent) -> list[Outcome]:
        """Write a dead-lettered event again; a run failed only by its rejection takes it."""
        return self._commit([PendingEvent(event)], reopen_rejected=True)
