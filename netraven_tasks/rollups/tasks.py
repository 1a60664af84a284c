"""Periodic tasks of the rollups and retention (internal: not tracked as jobs themselves)."""

from __future__ import annotations

from datetime import timedelta

from celery import Task, shared_task

from netraven_tasks.db import session_factory
from netraven_tasks.models import utcnow
from netraven_tasks.retention import keep_raw_from, purge_expired
from netraven_tasks.rollups.recompute import roll_up
from netraven_tasks.runtime import runtime_of

ROLL_UP_TASK = "netraven.roll_up_job_logs"
PURGE_TASK = "netraven.purge_expired_job_logs"


@shared_task(name=ROLL_UP_TASK, ignore_result=True, bind=True)
def roll_up_job_logs(self: Task) -> int:
    """Re-roll the hours whose job logs changed since the last run; returns how many hours."""
    settings = runtime_of(self.app).settings
    now = utcnow()
    with session_factory(settings)() as session:
        report = roll_up(
            session, now, timedelta(seconds=settings.rollup_lateness_seconds), keep_raw_from(settings, now)
        )
    return report.hours


@shared_task(name=PURGE_TASK, ignore_result=True, bind=True)
def purge_expired_job_logs(self: Task) -> int:
    """Delete job logs and rollups past their retention; returns how many job logs."""
    settings = runtime_of(self.app).settings
    return purge_expired(settings, session_factory(settings), utcnow()).job_logs
