"""Recorders: where tracking events go. Signal handlers only know the ``Recorder`` interface.

``SyncRecorder`` writes each event in its own transaction; a batched recorder (Redis Stream
consumer) can replace it without touching the handlers.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Protocol

from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.tracking.dead_letters import DeadLetters
from netraven_tasks.tracking.events import TrackingEvent
from netraven_tasks.tracking.isolation import BatchPlanner, IsolatingWriter, PendingEvent
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.published import PublishedMessages
from netraven_tasks.tracking.transitions import Outcome

log = logging.getLogger(__name__)

TerminalHook = Callable[[Outcome], None]


class Recorder(Protocol):
    def record(self, event: TrackingEvent) -> None: ...


class SyncRecorder:
    """Writes every event at once, in its own transaction, then runs the terminal hooks.

    An event the database refuses is dead-lettered and its run failed (``tracking.isolation``),
    exactly as on the stream path.
    """

    def __init__(
        self,
        sessions: sessionmaker[Session],
        on_terminal: Sequence[TerminalHook] = (),
        live: LiveFeed | None = None,
        dead_letters: DeadLetters | None = None,
        planner: BatchPlanner | None = None,
        published: PublishedMessages | None = None,
    ):
        self._sessions = sessions
        self._published = published
        self._on_terminal = list(on_terminal)
        self._live = live
        self.writer = IsolatingWriter(sessions, dead_letters, source="sync", planner=planner)

    def record(self, event: TrackingEvent) -> None:
        outcomes = self.writer.write([PendingEvent(event)])
        if self._published is not None:
            self._published.forget_started(outcomes)
        after_commit(self._live, self._on_terminal, outcomes)


def after_commit(live: LiveFeed | None, hooks: Sequence[TerminalHook], outcomes: Sequence[Outcome]) -> None:
    """What follows a committed batch: the live feed sees every changed row, then the hooks run."""
    if live is not None:
        latest = {outcome.job_log_id: outcome for outcome in outcomes}  # one row per job, its last state
        rows = (outcome.row for outcome in latest.values())
        live.publish(row for row in rows if row is not None)
        live.publish_batches(outcome.batch for outcome in outcomes if outcome.batch is not None)
    run_terminal_hooks(hooks, outcomes)


def run_terminal_hooks(hooks: Sequence[TerminalHook], outcomes: Sequence[Outcome]) -> None:
    """Run every hook for each outcome that just became terminal, after the commit."""
    for outcome in outcomes:
        if not outcome.became_terminal:
            continue
        for hook in hooks:
            try:
                hook(outcome)
            except Exception:
                # A hook (e.g. publishing the notify task) must not undo the recorded row.
                log.exception("terminal hook %r failed for job log %s", hook, outcome.job_log_id)
