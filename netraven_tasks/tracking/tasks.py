"""Internal periodic tasks of tracking (not tracked as jobs themselves)."""

from __future__ import annotations

import logging
import time

from celery import Task, shared_task

from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.runtime import Runtime, runtime_of
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.published import BrokerInventory, EverythingHeld, PublishedMessages
from netraven_tasks.tracking.reaper import ReaperHorizons, lost_message_events, vanished_events
from netraven_tasks.tracking.stream import total_backlog, tracking_streams

log = logging.getLogger(__name__)

BACKLOG_TOLERANCE_SECONDS = 30.0


def reap(settings: Settings, runtime: Runtime) -> int:
    """Mark failed the job runs whose worker or message vanished; returns how many."""
    client = runtime.redis_client()
    if settings.tracking_via_stream and client is not None:
        entries, age = total_backlog(client, tracking_streams(settings))
        if age > BACKLOG_TOLERANCE_SECONDS:
            # The rows are stale because the recorder is behind, not because workers vanished.
            log.warning("reaper skipped: %d tracking events wait since %.0fs", entries, age)
            return 0
    inventory: BrokerInventory = EverythingHeld()
    if client is not None:
        published = PublishedMessages(client)
        # Ids of runs settled without ever starting (their publish failed) are forgotten at last.
        published.trim(time.time() - settings.retention_days * 86400)
        inventory = published
    with session_factory(settings)() as session:
        now = utcnow()
        events = vanished_events(session, now, ReaperHorizons.of(settings))
        events += lost_message_events(session, now, settings.reaper_grace_seconds, inventory)
    recorder = runtime.recorder()
    for event in events:
        recorder.record(event)
    return len(events)


@shared_task(name="netraven.reap_vanished_jobs", ignore_result=True, bind=True)
def reap_vanished_jobs(self: Task) -> int:
    """Mark failed the job runs whose worker vanished; returns how many."""
    runtime = runtime_of(self.app)
    return reap(runtime.settings, runtime)
