"""Internal periodic tasks of tracking (not tracked as jobs themselves)."""

from __future__ import annotations

from celery import shared_task

from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.settings import get_settings
from netraven_tasks.tracking.reaper import vanished_events


@shared_task(name="netraven.reap_vanished_jobs", ignore_result=True)
def reap_vanished_jobs() -> int:
    """Mark failed the job runs whose worker vanished; returns how many."""
    from netraven_tasks.celery_app import current_recorder

    settings = get_settings()
    with session_factory(settings)() as session:
        events = vanished_events(session, utcnow(), settings.reaper_grace_seconds)
    recorder = current_recorder()
    for event in events:
        recorder.record(event)
    return len(events)
