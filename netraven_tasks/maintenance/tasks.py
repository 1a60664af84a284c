"""The beat task of maintenance windows: handle the end of every window that has ended."""

from __future__ import annotations

from celery import Task, shared_task

from netraven_tasks.db import session_factory
from netraven_tasks.maintenance.ending import end_windows
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.tasks import parse_now, renderer, wake_delivery
from netraven_tasks.runtime import runtime_of

END_WINDOWS_TASK = "netraven.maintenance.end_windows"


@shared_task(name=END_WINDOWS_TASK, ignore_result=True, bind=True)
def end_maintenance_windows(self: Task, now: str | None = None) -> dict[str, int]:
    """Tell who is still failing when a window ends (once per window, however often it runs);
    ``now`` (ISO) fixes the clock, as the notification tasks allow."""
    settings = runtime_of(self.app).settings
    outbox_ids = end_windows(
        session_factory(settings), renderer(settings), settings.mail_from, parse_now(now) or utcnow()
    )
    if outbox_ids:
        wake_delivery(self.app, outbox_ids)
    return {"alerts": len(outbox_ids)}
