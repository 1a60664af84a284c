"""Internal periodic tasks of tracking (not tracked as jobs themselves)."""

from __future__ import annotations

import logging

import redis
from celery import Celery, Task, shared_task

from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.runtime import runtime_of
from netraven_tasks.tracking.broker_inventory import BrokerInventory, EverythingHeld, RedisInventory
from netraven_tasks.tracking.reaper import lost_message_events, vanished_events
from netraven_tasks.tracking.stream import partition_streams, total_backlog

log = logging.getLogger(__name__)

BACKLOG_TOLERANCE_SECONDS = 30.0


def tracking_streams(app: Celery) -> list[str]:
    return partition_streams(runtime_of(app).settings.tracking_partitions)


def _inventory(app: Celery) -> BrokerInventory:
    client = runtime_of(app).redis_client()
    if client is None:
        return EverythingHeld()
    queues = {app.conf.task_default_queue, *(app.amqp.queues or {})}
    return RedisInventory(client, sorted(queues), tracking_streams(app))


@shared_task(name="netraven.reap_vanished_jobs", ignore_result=True, bind=True)
def reap_vanished_jobs(self: Task) -> int:
    """Mark failed the job runs whose worker vanished; returns how many."""
    settings = runtime_of(self.app).settings
    if settings.tracking_via_stream:
        with redis.Redis.from_url(settings.broker_url) as client:
            entries, age = total_backlog(client, tracking_streams(self.app))
        if age > BACKLOG_TOLERANCE_SECONDS:
            # The rows are stale because the recorder is behind, not because workers vanished.
            log.warning("reaper skipped: %d tracking events wait since %.0fs", entries, age)
            return 0
    with session_factory(settings)() as session:
        now = utcnow()
        events = vanished_events(session, now, settings.reaper_grace_seconds)
        events += lost_message_events(session, now, settings.reaper_grace_seconds, _inventory(self.app))
    recorder = runtime_of(self.app).recorder()
    for event in events:
        recorder.record(event)
    return len(events)
