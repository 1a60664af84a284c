"""Beat's scheduler class: our internal periodic tasks plus the schedules stored in the database.

Only the process holding the leader lock runs anything, so two or more beats can run for
availability. The schedules are read from the database every tick (``TICK_SECONDS``), so a
created, changed or paused schedule takes effect within one tick, without a restart.
"""

from __future__ import annotations

import logging
import os
import socket
from typing import Any

from celery import Celery
from celery.beat import Scheduler

from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.runtime import runtime_of
from netraven_tasks.schedules.launcher import launch_due
from netraven_tasks.schedules.leader import BeatLeader

log = logging.getLogger(__name__)

TICK_SECONDS = 1.0


class DatabaseScheduler(Scheduler):  # type: ignore[misc]
    """``celery beat -S netraven_tasks.schedules.beat:DatabaseScheduler`` (the app's default)."""

    def __init__(self, app: Celery, *args: Any, **kwargs: Any) -> None:
        self._settings = runtime_of(app).settings  # the settings beat's app was installed with
        self._sessions = session_factory(self._settings)
        self._leader = BeatLeader(self._settings, f"{socket.gethostname()}:{os.getpid()}")
        super().__init__(app, *args, **kwargs)

    def tick(self, *args: Any, **kwargs: Any) -> float:
        if not self._leader.holds():
            return TICK_SECONDS
        wait = float(super().tick(*args, **kwargs))
        try:
            launch_due(self._settings, self._sessions, utcnow(), self.app)
        except Exception:
            log.exception("launching due schedules failed; trying again next tick")
        return min(wait, TICK_SECONDS)

    def close(self) -> None:
        super().close()
        self._leader.release()
