"""Internal Celery tasks of notifications (not job types, so they are not tracked).

- ``notify_job_outcome``: the fallback for a job whose notifications the recorder could not plan
  in its batch (``batch_planning.py``); enqueues and sends at once what is immediate.
- ``notify_batch_finished``: the same fallback for a settled fleet run's one summary.
- ``deliver_outbox``: sends every due outbox row (beat runs it every 30 s: retries after backoff,
  rows whose sender died); the recorder wakes it once per batch with the rows it just planned.
- ``send_hourly_digest`` / ``send_daily_digest``: beat at minute 0 and at NETRAVEN_DIGEST_HOUR.
Each task takes an optional ISO ``now`` so a test (or an operator catching up) can fix the clock,
and reads the settings its app's integration was installed with (``runtime_of(self.app)``).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from functools import lru_cache
from pathlib import Path

from celery import Celery, Task, shared_task

from netraven_tasks.db import session_factory
from netraven_tasks.notifications.batch_planning import NotificationPlanner
from netraven_tasks.notifications.batch_summary import plan_batch_summary
from netraven_tasks.notifications.channels import build_channels
from netraven_tasks.notifications.digests import make_digests
from netraven_tasks.notifications.models import DigestPeriod
from netraven_tasks.notifications.outbox import deliver_due
from netraven_tasks.notifications.planning import alert_repeat, plan_job_notifications
from netraven_tasks.notifications.rendering import Renderer
from netraven_tasks.runtime import runtime_of
from netraven_tasks.settings import Settings

log = logging.getLogger(__name__)

NOTIFY_TASK = "netraven.notifications.notify_job_outcome"
NOTIFY_BATCH_TASK = "netraven.notifications.notify_batch_finished"
DELIVER_TASK = "netraven.notifications.deliver_outbox"
HOURLY_DIGEST_TASK = "netraven.notifications.send_hourly_digest"
DAILY_DIGEST_TASK = "netraven.notifications.send_daily_digest"


def renderer(settings: Settings) -> Renderer:
    """The message renderer of these settings (one per public URL and templates directory)."""
    return _renderer(settings.public_url, settings.templates_dir)


@lru_cache(maxsize=4)
def _renderer(public_url: str, templates_dir: Path | None) -> Renderer:
    return Renderer(public_url, templates_dir)


def parse_now(now: str | datetime | None) -> datetime | None:
    """An aware UTC datetime from an ISO string (naive means UTC), or None for the real clock."""
    if now is None:
        return None
    value = now if isinstance(now, datetime) else datetime.fromisoformat(now)
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _deliver(
    settings: Settings, ids: list[int] | None = None, now: datetime | None = None, limit: int = 200
) -> dict[str, int]:
    report = deliver_due(session_factory(settings), build_channels(settings), now=now, only=ids, limit=limit)
    return report.as_dict()


@shared_task(name=NOTIFY_TASK, ignore_result=True, bind=True)
def notify_job_outcome(self: Task, job_log_id: int) -> dict[str, int]:
    """Enqueue the job's notifications, then send the immediate ones now."""
    settings = runtime_of(self.app).settings
    with session_factory(settings).begin() as session:
        planned = plan_job_notifications(
            session, job_log_id, renderer(settings), settings.mail_from, alert_repeat(settings)
        )
    report = _deliver(settings, planned.outbox_ids) if planned.outbox_ids else {}
    return {"enqueued": len(planned.outbox_ids), "digest_items": planned.digest_items, **report}


@shared_task(name=NOTIFY_BATCH_TASK, ignore_result=True, bind=True)
def notify_batch_finished(self: Task, batch_id: int) -> dict[str, int]:
    """Enqueue a settled batch's summary (when the recorder could not), then send it now."""
    settings = runtime_of(self.app).settings
    with session_factory(settings).begin() as session:
        planned = plan_batch_summary(session, batch_id, renderer(settings), settings.mail_from)
    report = _deliver(settings, planned.outbox_ids) if planned.outbox_ids else {}
    return {"enqueued": len(planned.outbox_ids), "digest_items": planned.digest_items, **report}


@shared_task(name=DELIVER_TASK, ignore_result=True, bind=True)
def deliver_outbox(
    self: Task, now: str | None = None, limit: int = 200, ids: list[int] | None = None
) -> dict[str, int]:
    """Send every due outbox row (or only ``ids``, which the recorder just planned): first tries,
    retries after backoff, rows whose sender died."""
    settings = runtime_of(self.app).settings
    return _deliver(settings, ids=ids, now=parse_now(now), limit=max(limit, len(ids or ())))


def wake_delivery(app: Celery | None, outbox_ids: list[int]) -> None:
    """Send these rows now, on the pool; a lost wake-up is covered by beat's periodic delivery."""
    try:
        (app or runtime_of(None).app).send_task(DELIVER_TASK, kwargs={"ids": outbox_ids})
    except Exception:
        log.exception(
            "could not wake delivery of %d message(s); beat's periodic delivery will", len(outbox_ids)
        )


def notification_planner(app: Celery, settings: Settings) -> NotificationPlanner:
    """The recorder's batch planner (``notifications/batch_planning.py``) with the integration's
    ``settings``, publishing through ``app``."""
    return NotificationPlanner(
        lambda: renderer(settings), settings, app.send_task, DELIVER_TASK, NOTIFY_TASK, NOTIFY_BATCH_TASK
    )


def _digest(task: Task, period: DigestPeriod, now: str | None) -> dict[str, int]:
    """Make the period's digests a batch (``USERS_PER_BATCH`` users) at a time, and hand each
    committed batch to the pool as one ``deliver_outbox`` task: the worker's other processes (and
    other workers) send while the next batch is made, each batch on one SMTP connection. A batch
    whose task is lost is still due, so the 30-second outbox pass sends it."""
    settings = runtime_of(task.app).settings
    clock = parse_now(now) or datetime.now(UTC)
    deliveries: list[int] = []

    def deliver(ids: list[int]) -> None:
        task.app.send_task(DELIVER_TASK, kwargs={"ids": ids})
        deliveries.append(len(ids))

    ids = make_digests(
        session_factory(settings),
        period,
        clock,
        renderer(settings),
        settings.mail_from,
        settings.digest_hour,
        on_batch=deliver,
    )
    return {"digests": len(ids), "deliveries": len(deliveries)}


@shared_task(name=HOURLY_DIGEST_TASK, ignore_result=True, bind=True)
def send_hourly_digest(self: Task, now: str | None = None) -> dict[str, int]:
    """One digest per hourly user with pending items, for the hour that ended at ``now``."""
    return _digest(self, DigestPeriod.HOURLY, now)


@shared_task(name=DAILY_DIGEST_TASK, ignore_result=True, bind=True)
def send_daily_digest(self: Task, now: str | None = None) -> dict[str, int]:
    """One digest per daily user with pending items, for the day that ended at the digest hour."""
    return _digest(self, DigestPeriod.DAILY, now)
