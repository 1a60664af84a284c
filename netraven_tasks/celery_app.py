"""The Celery application: configuration, job modules and the beat schedule.

``celery -A netraven_tasks.celery_app`` (or ``-A netraven_tasks``) finds ``app`` here. Importing
this module builds the configured app and installs the integration (``celery_integration.py``):
it connects no broker and asks no database; what needs a connection makes it on first use.
"""

from __future__ import annotations

from typing import Any

from celery import Celery
from celery.schedules import crontab

from netraven_tasks.access import models as _access_models  # noqa: F401 - their tables
from netraven_tasks.audit import models as _audit_models  # noqa: F401 - their tables
from netraven_tasks.broker import broker_has_events
from netraven_tasks.celery_integration import install
from netraven_tasks.devices import models as _device_models  # noqa: F401 - their tables
from netraven_tasks.jobs import BUILTIN_JOB_MODULES
from netraven_tasks.jobs.registry import load_job_modules
from netraven_tasks.maintenance import tasks as maintenance_tasks
from netraven_tasks.notifications import tasks as notification_tasks
from netraven_tasks.schedules import models as _schedule_models  # noqa: F401 - their tables
from netraven_tasks.settings import Settings, get_settings
from netraven_tasks.teams import models as _team_models  # noqa: F401 - their tables

INTERNAL_TASK_MODULES = (
    "netraven_tasks.tracking.tasks",
    "netraven_tasks.notifications.tasks",
    "netraven_tasks.maintenance.tasks",
)
# Queries at scale: rollups and retention.
SCALE_TASK_MODULES = ("netraven_tasks.rollups.tasks",)


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        # A dead worker's run is settled within two deadlines of its last heartbeat.
        "reap-vanished-jobs": {"task": "netraven.reap_vanished_jobs", "schedule": settings.deadline_seconds},
        # Notifications: retries and orphaned claims, then the digests (UTC).
        "deliver-notifications": {"task": notification_tasks.DELIVER_TASK, "schedule": 30.0},
        "hourly-digest": {"task": notification_tasks.HOURLY_DIGEST_TASK, "schedule": crontab(minute=0)},
        "daily-digest": {
            "task": notification_tasks.DAILY_DIGEST_TASK,
            "schedule": crontab(minute=0, hour=settings.digest_hour),
        },
        # Maintenance windows that ended: one alert per scope still failing.
        "end-maintenance-windows": {"task": maintenance_tasks.END_WINDOWS_TASK, "schedule": 30.0},
        # Queries at scale: re-roll changed hours every minute; purge expired rows hourly.
        "roll-up-job-logs": {"task": "netraven.roll_up_job_logs", "schedule": 60.0},
        "purge-expired-job-logs": {"task": "netraven.purge_expired_job_logs", "schedule": crontab(minute=17)},
    }


def create_celery_app(settings: Settings) -> Celery:
    app = Celery(
        "netraven_tasks",
        broker=settings.broker_url,
        # Not the thread's current app: only the module's ``app`` below is the default, so an app
        # a script or test makes never takes over the shared tasks of this process.
        set_as_current=False,
        include=[*BUILTIN_JOB_MODULES, *INTERNAL_TASK_MODULES, *SCALE_TASK_MODULES, *settings.job_modules],
    )
    events = broker_has_events(settings.broker_url)
    app.conf.update(
        task_serializer="json",
        accept_content=["json"],
        result_serializer="json",
        task_ignore_result=True,  # outcomes live in job_logs, not in a result backend
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,  # network jobs are long: no worker hoards messages
        task_send_sent_event=events,
        worker_send_task_events=events,
        enable_utc=True,
        timezone="UTC",
        broker_connection_retry_on_startup=True,
        beat_schedule=beat_schedule(settings),
        worker_hijack_root_logger=False,
        # Schedules: the database-backed scheduler with a leader lock (any number of beats).
        beat_scheduler="netraven_tasks.schedules.beat:DatabaseScheduler",
    )
    if settings.broker_is_redis:
        app.conf.broker_transport_options = redis_redelivery_options(settings.redelivery_seconds)
    return app


def redis_redelivery_options(redelivery_seconds: int) -> dict[str, int]:
    """A message unacked ``redelivery_seconds`` (its worker died as a whole) is delivered again.

    kombu's Redis transport looks for such messages every ``unacked_restore_interval`` x
    ``unacked_restore_throttle`` seconds (10 x 10 by default since kombu 5.7): fine for the
    default hour, but a short visibility timeout would wait up to 100 s for the sweep. The sweep
    runs at least twice per timeout, and never more often than once a second."""
    sweep = max(1, min(100, redelivery_seconds // 2))
    interval = min(10, sweep)
    return {
        "visibility_timeout": redelivery_seconds,
        "unacked_restore_interval": interval,
        "unacked_restore_throttle": max(1, sweep // interval),
    }


app = create_celery_app(get_settings())
app.set_default()  # every thread of this process, not only this one, publishes through this app
# Every process that publishes (API, CLI, beat) needs the job types, not only the worker.
load_job_modules(app.conf.include)
integration = install(app, get_settings())
