"""The one place NetRaven Tasks plugs into Celery: ``install(app, settings)``.

In the spirit of dramatiq's middleware, one object per app holds this process's connections and
recorder, and ``install`` connects, once:
- the tracking signal handlers (``tracking/signals.py``), bound to this process's recorder;
- the terminal hooks the recorder runs after each commit (``terminal_hooks``);
- the log format and job context of worker and beat (``logging_setup.py``): each job's id is
  resolved once, before its first log line (``JobRequest``, task_prerun), never in the filter;
- the worker bootstep that runs the recorder beside every worker (``recorder_step.py``);
- the worker bootstep that renews the deadlines of running jobs (``heartbeat_step.py``), the
  record of published messages (``tracking/published.py``) and the check that a redelivered
  message of a settled run is not run again (``JobRequest.revoked``).
``install_tracking(app, settings, task_names)`` connects only the tracking part to another
Celery app (``netraven_tasks.track``): the handlers of the named tasks, the record of published
messages and the heartbeat bootstep; that app's logging, task classes and worker pool are left
as they are, and the recorder runs beside NetRaven's own workers.
Importing this module connects nothing and opens no connection; neither does ``install``:
connections are made on first use, in the process that uses them, and dropped at fork.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any, TypeVar

import redis
from celery import Celery, signals
from celery.worker import state
from celery.worker.request import Request
from celery.worker.state import task_ready

from netraven_tasks.db import dispose_engines, session_factory
from netraven_tasks.devices.leases import DatabaseLeases, LeaseStore, RedisLeases
from netraven_tasks.heartbeat_step import HeartbeatStep
from netraven_tasks.jobs.deferral import defer
from netraven_tasks.jobs.device_limits import DeviceLimits
from netraven_tasks.jobs.registry import JobTask, job_type_for_task
from netraven_tasks.logging_setup import JobContextFilter, JobLogIds, apply_to_handlers
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.batch_planning import NotificationPlanner
from netraven_tasks.notifications.tasks import notification_planner
from netraven_tasks.recorder_step import RecorderStep
from netraven_tasks.runtime import APP_ATTRIBUTE, set_default
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.dead_letters import dead_letters_for
from netraven_tasks.tracking.events import EventKind, TrackingEvent
from netraven_tasks.tracking.fallback import FallbackRecorder
from netraven_tasks.tracking.headers import JOB_LOG_HEADER, RECORDED_HEADER
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.published import PublishedMessages
from netraven_tasks.tracking.recorder import SyncRecorder, TerminalHook
from netraven_tasks.tracking.redelivery import settled_status
from netraven_tasks.tracking.signals import TrackingSignals
from netraven_tasks.tracking.spool import spool_for
from netraven_tasks.tracking.stream import RecorderConsumer, SplitRecorder, StreamRecorder, partition_stream

T = TypeVar("T")

log = logging.getLogger(__name__)


class CeleryIntegration:
    """NetRaven's side of one Celery app (``runtime.Runtime``: what lower layers may ask)."""

    def __init__(self, app: Celery, settings: Settings, tracked_tasks: set[str] | None = None):
        self.app = app
        self.settings = settings
        # The task names another app's integration tracks (``install_tracking``); None for our
        # own app, which tracks the tasks of its job types (``@job_type``).
        self.tracked_tasks = tracked_tasks
        # Hooks run after the commit for each job that reached its final status. Notifications
        # are not one of them: the recorder plans them in its own transaction (planner()).
        self.terminal_hooks: list[TerminalHook] = []
        self.job_log_ids = JobLogIds(settings)
        self._log_context = JobContextFilter(self.job_log_ids.known)  # reads a cache, never the database
        self._made: dict[str, Any] = {}  # this process's connections and recorder, made lazily
        self._lock = threading.RLock()

    def _once(self, name: str, make: Callable[[], T]) -> T:
        with self._lock:
            if name not in self._made:
                self._made[name] = make()
            made: T = self._made[name]
            return made

    def redis_client(self) -> redis.Redis | None:
        """This process's Redis client (``Settings.redis_url_in_use``: NETRAVEN_REDIS_URL or the
        broker's Redis); None without Redis."""
        url = self.settings.redis_url_in_use
        return self._once("redis", lambda: redis.Redis.from_url(url) if url else None)

    def live_feed(self) -> LiveFeed | None:
        return self._once("live", lambda: LiveFeed(client) if (client := self.redis_client()) else None)

    def device_limits(self) -> DeviceLimits:
        """Per-device leases: in Redis when there is one, else in the database."""
        return self._once("device_limits", lambda: DeviceLimits(self._lease_store(), self.settings))

    def _lease_store(self) -> LeaseStore:
        client = self.redis_client()
        return RedisLeases(client) if client is not None else DatabaseLeases(session_factory(self.settings))

    def planner(self) -> NotificationPlanner:
        """Notifications planned in the recorder's transaction, delivery published through this app."""
        return notification_planner(self.app, self.settings)

    def recorder(self) -> FallbackRecorder:
        """This process's recorder: the stream (and a synchronous queued row), or the database;
        the database when the stream fails, the local spool when both do (tracking/fallback.py)."""
        return self._once("recorder", self._make_recorder)

    def replay_spool(self) -> bool:
        """Deliver what the spool holds, in order (the worker's timer calls this); True once the
        spool is empty."""
        recorder = self.recorder()
        recorder.replay()
        return not recorder.spool.holds_events()

    def _make_recorder(self) -> FallbackRecorder:
        client = self.redis_client()
        sync = SyncRecorder(
            session_factory(self.settings),
            on_terminal=self.terminal_hooks,
            live=self.live_feed(),
            dead_letters=dead_letters_for(self.settings, client),
            planner=self.planner(),
            published=PublishedMessages(client) if client is not None else None,
        )
        spool = spool_for(self.settings)
        if client is None or not self.settings.tracking_via_stream:
            return FallbackRecorder([sync], spool)
        stream = StreamRecorder(client, partitions=self.settings.tracking_partitions)
        return FallbackRecorder([SplitRecorder(sync, stream), sync], spool)

    def recorder_consumer(self, name: str, partition: int = 0) -> RecorderConsumer:
        """The consumer of one tracking partition (its own Redis connection: one thread each)."""
        client = redis.Redis.from_url(self.settings.redis_url_in_use or self.settings.broker_url)
        return RecorderConsumer(
            client,
            session_factory(self.settings),
            name,
            self.terminal_hooks,
            stream=partition_stream(partition),
            live=LiveFeed(client),
            planner=self.planner(),
        )

    def after_fork(self, **_: Any) -> None:
        """A pool child shares no connection with its parent: make its own on first use."""
        dispose_engines()
        with self._lock:
            self._made.clear()

    def _log_setup(self, logger: Any = None, **_: Any) -> None:
        if logger is not None:
            apply_to_handlers(logger, self.settings.log_format, self._log_context)

    def _remember_job_log_id(self, task_id: str = "", sender: Any = None, **_: Any) -> None:
        """A pool child learns the job's id from the headers before the job's first line."""
        request = getattr(sender, "request", None)
        value = getattr(request, JOB_LOG_HEADER, None)
        if task_id and value is not None:
            self.job_log_ids.remember(task_id, int(value))

    def _record_published(
        self, sender: str | None = None, headers: dict[str, Any] | None = None, **_: Any
    ) -> None:
        """Before a job's first message leaves: its id joins our record of published messages."""
        headers = headers or {}
        task_id = headers.get("id")
        if not task_id or headers.get("retries") or not self.tracks(sender):
            return  # a retry's run is ``retrying``, not ``queued``: no lost-message check needs it
        if headers.get(RECORDED_HEADER):
            return  # its launcher recorded it with the rest of its batch
        client = self.redis_client()
        if client is not None:
            PublishedMessages(client).add(str(task_id))

    def tracks(self, task_name: str | None) -> bool:
        """Whether this app's integration records the runs of the task named ``task_name``."""
        if self.tracked_tasks is not None:
            return task_name in self.tracked_tasks
        declared = job_type_for_task(task_name)
        return declared is not None and not declared.tracked

    def install(self) -> CeleryIntegration:
        self._connect_tracking()
        set_default(self)
        self.app.steps["worker"].add(RecorderStep)
        signals.after_setup_logger.connect(self._log_setup, weak=False)
        signals.after_setup_task_logger.connect(self._log_setup, weak=False)
        signals.task_prerun.connect(self._remember_job_log_id, weak=False)
        JobTask.Request = JobRequest  # the worker reads a task's request class when it starts
        return self

    def _connect_tracking(self) -> None:
        setattr(self.app, APP_ATTRIBUTE, self)
        TrackingSignals(self.recorder, self.tracks).connect()
        signals.worker_process_init.connect(self.after_fork, weak=False)
        signals.before_task_publish.connect(self._record_published, weak=False)
        self.app.steps["worker"].add(HeartbeatStep)  # a run that runs is seen to run, on any app


class JobRequest(Request):  # type: ignore[misc]
    """A job's message as the worker's main process receives it, before Celery logs a line of it.

    The job-log id is resolved here, once (from the headers, or one SELECT for runs published
    without ``launch_job``), and travels on in the request to the pool child.
    """

    def __init__(self, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        integration: CeleryIntegration | None = getattr(self.app, APP_ATTRIBUTE, None)
        if integration is None:
            return
        headers: dict[str, Any] = self.request_dict  # what the pool child gets as task.request
        raw = headers.get(JOB_LOG_HEADER)
        job_log_id = integration.job_log_ids.resolve(
            self.id, self.name, int(raw) if raw is not None else None
        )
        if job_log_id is not None:
            headers[JOB_LOG_HEADER] = job_log_id

    _device_lease: str | None = None  # the device this run holds a lease on, in this worker

    def revoked(self) -> bool:
        """Whether the job must not run now: revoked (Celery's check); a redelivered message of a
        run already settled, which is acknowledged here and logged (``tracking/redelivery.py``);
        or a job whose device is busy, which is deferred (``_device_busy``).

        Celery asks this before handing the request to the pool, and then skips it quietly."""
        if super().revoked():
            return True
        integration: CeleryIntegration | None = getattr(self.app, APP_ATTRIBUTE, None)
        if integration is None:
            return False
        return self._redelivered_but_settled(integration) or self._device_busy(integration)

    def _redelivered_but_settled(self, integration: CeleryIntegration) -> bool:
        if not self.delivery_info.get("redelivered"):
            return False
        try:
            status = settled_status(session_factory(integration.settings), self.id)
        except Exception as error:
            # Without an answer the job runs, as it would have without this check.
            log.warning(
                "could not check whether redelivered %s[%s] is settled: %s", self.name, self.id, error
            )
            return False
        if status is None:
            return False
        log.warning(
            "not running %s[%s] again: its message was redelivered, but the run is already %s",
            self.name, self.id, status,
        )  # fmt: skip
        self._skip()
        return True

    def _skip(self) -> None:
        """Done with this message without running it: acknowledged, and the next ask says so."""
        task_ready(self)
        self.acknowledge()
        self._already_revoked = True

    def _device_busy(self, integration: CeleryIntegration) -> bool:
        """Take a lease on the job's device; when it is busy, defer the job and say so (True).

        Only when the request is about to run (reserved: Celery also asks early, on receipt, about
        messages that expire). A redelivered or retried message of a run holding the lease gets it
        again. Without an answer from the lease store the job runs, as it would without limits."""
        declared = job_type_for_task(self.name)
        kwargs = self.kwargs
        device = declared.device_of(kwargs) if declared and isinstance(kwargs, dict) else None
        if declared is None or device is None or self not in state.reserved_requests:
            return False
        limits = integration.device_limits()
        try:
            if limits.take(declared, device, self.id):
                self._device_lease = device
                return False
            seconds = defer(self, limits)
        except Exception as error:
            log.warning("could not check the lease on %r of %s[%s]: %s", device, self.name, self.id, error)
            return False
        self._skip()
        event = TrackingEvent(
            kind=EventKind.DEFERRED,
            task_id=self.id,
            job_type=declared.name,
            device=device,
            next_retry_at=utcnow() + timedelta(seconds=seconds),
        )
        try:
            integration.recorder().record(event)
        except Exception:
            log.exception("could not record the deferral of %s[%s]", self.name, self.id)
        return True

    def acknowledge(self) -> None:
        """Job tasks are acknowledged late: the message's end (success, failure, retry, time
        limit, revoke) is where its device lease is given back."""
        try:
            super().acknowledge()
        finally:
            self._give_back_lease()

    def reject(self, requeue: bool = False) -> None:
        """A lost worker's message (requeued) gives its lease back too."""
        try:
            super().reject(requeue=requeue)
        finally:
            self._give_back_lease()

    def _give_back_lease(self) -> None:
        device, self._device_lease = self._device_lease, None
        integration: CeleryIntegration | None = getattr(self.app, APP_ATTRIBUTE, None)
        if device is None or integration is None:
            return
        try:
            integration.device_limits().give_back(device, self.id)
        except Exception as error:  # it expires by itself; the next job on the device waits until then
            log.warning("could not give back lease %r of %s[%s]: %s", device, self.name, self.id, error)


def install(app: Celery, settings: Settings) -> CeleryIntegration:
    """Connect NetRaven Tasks to ``app`` (once per app; a second call returns the first)."""
    installed: CeleryIntegration | None = getattr(app, APP_ATTRIBUTE, None)
    return installed if installed is not None else CeleryIntegration(app, settings).install()


def install_tracking(app: Celery, settings: Settings, task_names: set[str]) -> CeleryIntegration:
    """Track the runs of ``task_names``, tasks of another Celery app (``netraven_tasks.track``).

    Once per app: a later call adds its names to the first call's, connecting nothing again.
    Unlike ``install``, it changes neither this process's default app (``runtime.set_default``),
    nor the app's logging, nor a task class: per-device limits and the check of redelivered
    messages (``JobRequest``) stay with NetRaven's own job types, and the recorder (with the replay
    of the local spool) runs beside NetRaven's own workers (``RecorderStep``), not this app's."""
    installed: CeleryIntegration | None = getattr(app, APP_ATTRIBUTE, None)
    if installed is None:
        installed = CeleryIntegration(app, settings, tracked_tasks=set())
        installed._connect_tracking()
    if installed.tracked_tasks is None:
        raise ValueError(f"the Celery app {app.main!r} is NetRaven's own: its job types are tracked already")
    installed.tracked_tasks.update(task_names)
    return installed
