"""The Celery application: configuration, job modules, tracking and the beat schedule."""

from __future__ import annotations

import logging
import os
import subprocess
import sys
import threading
from functools import lru_cache
from typing import Any

import redis
from celery import Celery, signals
from celery.schedules import crontab

from netraven_tasks import logging_setup, pool_shutdown
from netraven_tasks.db import dispose_engines, session_factory
from netraven_tasks.jobs import BUILTIN_JOB_MODULES
from netraven_tasks.jobs.registry import load_job_modules
from netraven_tasks.notifications import tasks as notification_tasks
from netraven_tasks.schedules import models as _schedule_models  # noqa: F401 - their tables
from netraven_tasks.settings import Settings, get_settings
from netraven_tasks.tracking import signals as tracking_signals
from netraven_tasks.tracking.dead_letters import dead_letters_for
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.recorder import Recorder, SyncRecorder, TerminalHook
from netraven_tasks.tracking.stream import RecorderConsumer, SplitRecorder, StreamRecorder, partition_stream

INTERNAL_TASK_MODULES = ("netraven_tasks.tracking.tasks", "netraven_tasks.notifications.tasks")
# Queries at scale: rollups and retention.
SCALE_TASK_MODULES = ("netraven_tasks.rollups.tasks",)

log = logging.getLogger(__name__)

REDELIVERY_SECONDS = 3600

# Hooks run after the commit for each job that reached its final status. Notifications are not
# one of them: the recorder plans them in its own transaction (notification_tasks.notification_planner).
TERMINAL_HOOKS: list[TerminalHook] = []


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    return {
        "reap-vanished-jobs": {"task": "netraven.reap_vanished_jobs", "schedule": 60.0},
        # Notifications: retries and orphaned claims, then the digests (UTC).
        "deliver-notifications": {"task": notification_tasks.DELIVER_TASK, "schedule": 30.0},
        "hourly-digest": {"task": notification_tasks.HOURLY_DIGEST_TASK, "schedule": crontab(minute=0)},
        "daily-digest": {
            "task": notification_tasks.DAILY_DIGEST_TASK,
            "schedule": crontab(minute=0, hour=settings.digest_hour),
        },
        # Queries at scale: re-roll changed hours every minute; purge expired rows hourly.
        "roll-up-job-logs": {"task": "netraven.roll_up_job_logs", "schedule": 60.0},
        "purge-expired-job-logs": {"task": "netraven.purge_expired_job_logs", "schedule": crontab(minute=17)},
    }


def create_celery_app(settings: Settings) -> Celery:
    app = Celery(
        "netraven_tasks",
        broker=settings.broker_url,
        include=[*BUILTIN_JOB_MODULES, *INTERNAL_TASK_MODULES, *SCALE_TASK_MODULES, *settings.job_modules],
    )
    events = not settings.broker_url.startswith(("sqla+", "memory"))
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
        # A message unacked this long (its worker died as a whole) is delivered again.
        app.conf.broker_transport_options = {"visibility_timeout": REDELIVERY_SECONDS}
    return app


@lru_cache(maxsize=1)
def redis_client() -> redis.Redis | None:
    """This process's client of the broker's Redis (None on other brokers)."""
    settings = get_settings()
    return redis.Redis.from_url(settings.broker_url) if settings.broker_is_redis else None


@lru_cache(maxsize=1)
def current_live_feed() -> LiveFeed | None:
    client = redis_client()
    return LiveFeed(client) if client is not None else None


@lru_cache(maxsize=1)
def current_recorder() -> Recorder:
    settings = get_settings()
    client = redis_client()
    sync = SyncRecorder(
        session_factory(settings),
        on_terminal=TERMINAL_HOOKS,
        live=current_live_feed(),
        dead_letters=dead_letters_for(settings, client),
        planner=notification_tasks.notification_planner(),
    )
    if client is None or not settings.tracking_via_stream:
        return sync
    return SplitRecorder(sync, StreamRecorder(client, partitions=settings.tracking_partitions))


@signals.worker_process_init.connect(weak=False)
def _after_fork(**_: Any) -> None:
    dispose_engines()
    # No Redis connection shared across fork.
    for cached in (current_recorder, current_live_feed, redis_client):
        cached.cache_clear()


def recorder_consumer(settings: Settings, name: str, partition: int = 0) -> RecorderConsumer:
    """The consumer of one tracking partition (its own Redis connection: one thread each)."""
    client = redis.Redis.from_url(settings.broker_url)
    return RecorderConsumer(
        client,
        session_factory(settings),
        name,
        TERMINAL_HOOKS,
        stream=partition_stream(partition),
        live=LiveFeed(client),
        planner=notification_tasks.notification_planner(),
    )


class RecorderSupervisor:
    """Keeps a ``netraven-tasks recorder`` process running beside this worker.

    A process of its own, not a thread of the worker's main process: there the batch writer
    competed for the interpreter with message dispatch: no-op job throughput was 0.29x of
    untracked tasks that way, 0.77x this way (benchmarks/tracking_overhead.py). It is restarted if
    it dies, and it stops by itself if the worker dies.
    """

    def __init__(self, name: str):
        self._command = [
            sys.executable, "-m", "netraven_tasks.cli", "recorder",
            "--name", name, "--parent-pid", str(os.getpid()),
        ]  # fmt: skip
        self._process: subprocess.Popen[bytes] | None = None
        self._stopping = threading.Event()

    def start(self) -> None:
        self._process = subprocess.Popen(self._command)
        threading.Thread(target=self._watch, name="recorder-supervisor", daemon=True).start()

    def _watch(self) -> None:
        while not self._stopping.wait(1.0):
            if self._process is not None and self._process.poll() is not None:
                log.warning("recorder exited with %s; starting it again", self._process.returncode)
                self._process = subprocess.Popen(self._command)

    def stop(self) -> None:
        self._stopping.set()
        process = self._process
        if process is not None and process.poll() is None:
            process.terminate()
            try:
                process.wait(15)
            except subprocess.TimeoutExpired:
                process.kill()


_supervisor: RecorderSupervisor | None = None


@signals.worker_ready.connect(weak=False)
def _start_recorder(sender: Any = None, **_: Any) -> None:
    """Every worker runs a recorder beside it; one of them leads at a time."""
    global _supervisor
    settings = get_settings()
    if settings.tracking_via_stream and settings.recorder_in_worker:
        _supervisor = RecorderSupervisor(f"{getattr(sender, 'hostname', 'worker')}:recorder")
        _supervisor.start()


@signals.worker_shutdown.connect(weak=False)
def _stop_recorder(**_: Any) -> None:
    if _supervisor is not None:
        _supervisor.stop()


_schedule_watch_stop = threading.Event()


@signals.worker_ready.connect(weak=False)
def _start_schedule_watch(**_: Any) -> None:
    """Schedules: without a recorder beside the worker (the embedded default), the worker itself
    runs the missed-run check; otherwise the recorder does."""
    settings = get_settings()
    if not (settings.tracking_via_stream and settings.recorder_in_worker):
        from netraven_tasks.schedules.watch import start_watch

        start_watch(settings, _schedule_watch_stop)


@signals.worker_shutdown.connect(weak=False)
def _stop_schedule_watch(**_: Any) -> None:
    _schedule_watch_stop.set()


tracking_signals.install(current_recorder)
pool_shutdown.install()  # SIGTERM to the whole process group must not hang the worker
logging_setup.install_celery_hooks(get_settings)  # operations: log format and job context

app = create_celery_app(get_settings())
app.set_default()  # every thread of this process, not only this one, publishes through this app
# Every process that publishes (API, CLI, beat) needs the job types, not only the worker.
load_job_modules(app.conf.include)
