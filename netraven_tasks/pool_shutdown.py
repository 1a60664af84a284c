"""Prompt worker shutdown when SIGTERM reaches the whole process group.

systemd's default ``KillMode=control-group`` (and many supervisors) signal every process of the
service at once. A prefork child killed while it holds the pool's inqueue read lock never
releases it, and billiard's ``Pool._help_stuff_finish`` (the non-async pool, used with brokers
such as the embedded SQLAlchemy transport) then waits for that lock forever: the worker hangs.
Here the lock is waited for a bounded time; if it cannot be had, its holder is dead or about to
be terminated, and nothing will read the inqueue again, so there is nothing to drain. The
shipped systemd units use ``KillMode=mixed`` (Celery's recommendation) so this is the fallback.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from billiard import pool as billiard_pool

log = logging.getLogger(__name__)

LOCK_WAIT_SECONDS = 1.0


def _help_stuff_finish(inqueue: Any, task_handler: Any, _pool: Any) -> None:
    # Same as billiard's, except that the lock is not awaited forever.
    if not inqueue._rlock.acquire(timeout=LOCK_WAIT_SECONDS):
        log.warning("pool inqueue lock held by a child that is gone; stopping without draining it")
        return
    while task_handler.is_alive() and inqueue._reader.poll():
        inqueue._reader.recv()
        time.sleep(0)


def install() -> None:
    """Replace the unbounded wait in billiard's pool (idempotent)."""
    billiard_pool.Pool._help_stuff_finish = staticmethod(_help_stuff_finish)
