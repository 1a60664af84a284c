"""The fallback chain of a signal handler: the stream, else the database, else the local spool.

A job that ran must never be reported lost because Redis blinked: an event the stream cannot
take is written synchronously (the embedded default's ``SyncRecorder``), and one the database
cannot take either goes to the spool (``tracking/spool.py``), which the worker replays through
the same chain. While this process has events in the spool, its new events queue behind them,
so a job's events reach the recorder in the order they happened. When Redis answers, this costs
one attribute read per event beside the XADD.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Sequence

from netraven_tasks import backoff
from netraven_tasks.tracking.events import TrackingEvent
from netraven_tasks.tracking.recorder import Recorder
from netraven_tasks.tracking.spool import Spool

log = logging.getLogger(__name__)


class FallbackRecorder:
    """Hands each event to the first recorder of ``chain`` that takes it, else to ``spool``."""

    def __init__(self, chain: Sequence[Recorder], spool: Spool):
        self._chain = list(chain)
        self.spool = spool
        self._spooled = False  # this process put events in the spool that may still wait there

    def record(self, event: TrackingEvent) -> None:
        if self._spooled:
            if self.spool.holds_events():
                self.spool.append(event)  # behind this process's earlier events, in order
                return
            self._spooled = False
        try:
            self.deliver(event)
        except Exception:
            self.spool.append(event)
            self._spooled = True
            log.warning(
                "tracking: %s of task %s kept in the spool %s", event.kind, event.task_id, self.spool.path
            )

    def deliver(self, event: TrackingEvent) -> None:
        """The first recorder that takes ``event``; raises the last error if none does."""
        for position, recorder in enumerate(self._chain):
            try:
                recorder.record(event)
                return
            except Exception as error:
                if position == len(self._chain) - 1:
                    raise
                log.warning(
                    "tracking: %s could not take %s of task %s (%s: %s); trying the next way",
                    type(recorder).__name__, event.kind, event.task_id, type(error).__name__, error,
                )  # fmt: skip

    def replay(self) -> int:
        """Deliver what the spool holds, in order, until a recorder takes it no more."""
        delivered = self.spool.replay(self.deliver)
        if delivered:
            log.info("tracking: %d spooled event(s) delivered from %s", delivered, self.spool.path)
        return delivered


class SpoolReplay:
    """Replays the spool from the worker's timer (``recorder_step.py``); after a failed try it waits longer
    (0.5 s doubling to 5 s), so an outage does not cost the timer a failed connection a second."""

    def __init__(self, replay: Callable[[], bool]):
        self._replay = replay  # delivers what it can; True once the spool is empty
        self._failures = 0
        self._next = 0.0

    def tick(self) -> None:
        if time.monotonic() < self._next:
            return
        try:
            drained = self._replay()
        except Exception:  # the spool itself unreadable: say so, try again later
            log.exception("could not replay the tracking spool")
            drained = False
        self._failures = 0 if drained else self._failures + 1
        wait = backoff.delay(self._failures, 0.5, 5.0) if self._failures else 0.0
        self._next = time.monotonic() + wait
