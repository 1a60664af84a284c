"""The worker bootstep that renews the deadlines (and device leases) of the jobs this worker runs,
and stamps the worker's own presence (tracking/workers.py: ``netraven_workers_alive``).

Every NETRAVEN_HEARTBEAT_SECONDS the worker's own timer (in its main process, which outlives any
pool child) sets the deadline of all its running jobs to now + NETRAVEN_DEADLINE_SECONDS in one
UPDATE. Nothing runs per task: the cost is one statement per worker per heartbeat, whatever the
throughput. A worker killed outright stops renewing, and the reaper settles its runs.

The timer only collects the running jobs' ids; the UPDATE runs on one thread of its own, so a slow
or unreachable database never stalls the worker's message loop (the timer runs inside it).
"""

from __future__ import annotations

import logging
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import timedelta
from typing import Any

from celery import bootsteps
from celery.worker import state
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.db import session_factory
from netraven_tasks.jobs.device_limits import DeviceLimits
from netraven_tasks.jobs.registry import JobType, job_type_for_task
from netraven_tasks.models import utcnow
from netraven_tasks.runtime import runtime_of
from netraven_tasks.tracking.deadlines import renew_deadlines
from netraven_tasks.tracking.workers import WorkerPresence

log = logging.getLogger(__name__)


class Heartbeat:
    """Renews the deadlines of the tracked jobs the pool is running now, and their device leases;
    stamps the worker alive for one deadline more (where there is a ``presence`` to stamp)."""

    def __init__(
        self,
        sessions: sessionmaker[Session],
        deadline_seconds: float,
        limits: DeviceLimits | None = None,
        presence: tuple[WorkerPresence, str] | None = None,
    ):
        self._sessions = sessions
        self._deadline = timedelta(seconds=deadline_seconds)
        self._limits = limits
        self._presence = presence
        self._writer = ThreadPoolExecutor(max_workers=1, thread_name_prefix="netraven-heartbeat")
        self._pending: Future[None] | None = None
        # A renewal in flight must not stamp the worker alive again after close() forgot it.
        self._presence_lock = threading.Lock()
        self._closed = False

    def beat(self) -> None:
        """On the worker's timer: collect the running ids here, renew them on the writer thread."""
        if self._pending is not None and not self._pending.done():
            return  # the previous renewal still waits for the database: no pile-up
        running: set[str] = set()
        leases: list[tuple[JobType, str, str]] = []
        for request in list(state.active_requests):
            declared = job_type_for_task(request.name)
            if declared is None:
                continue
            running.add(request.id)
            device = getattr(request, "_device_lease", None)  # set by JobRequest when it took one
            if device is not None:
                leases.append((declared, device, request.id))
        if running or self._presence is not None:
            self._pending = self._writer.submit(self.renew, running, leases)

    def renew(self, running: set[str], leases: list[tuple[JobType, str, str]] | None = None) -> None:
        if self._presence is not None:
            presence, worker = self._presence
            with self._presence_lock:
                try:
                    if not self._closed:
                        presence.stamp(worker, self._deadline.total_seconds())
                except Exception as error:
                    log.warning("could not stamp worker %s alive: %s", worker, error)
        if leases and self._limits is not None:
            try:  # first: a lease store that answers must not wait for a slow database
                self._limits.renew(leases)
            except Exception as error:
                log.warning("could not renew the device leases of %d running jobs: %s", len(leases), error)
        if not running:
            return
        try:
            with self._sessions.begin() as session:
                renew_deadlines(session, running, utcnow() + self._deadline)
        except Exception as error:
            # The next beat tries again; the deadline leaves room for a few missed ones.
            log.warning("could not renew the deadlines of %d running jobs: %s", len(running), error)

    def close(self) -> None:
        self._writer.shutdown(wait=False, cancel_futures=True)
        if self._presence is not None:
            presence, worker = self._presence
            with self._presence_lock:
                self._closed = True
                try:
                    presence.forget(worker)
                except Exception as error:  # its deadline passes soon enough
                    log.warning("could not mark worker %s stopped: %s", worker, error)


class HeartbeatStep(bootsteps.StartStopStep):
    """Starts the heartbeat on the worker's timer with the worker, cancels it at shutdown."""

    requires = ("celery.worker.components:Timer",)
    label = "NetRaven heartbeat"

    def __init__(self, worker: Any, **kwargs: Any):
        super().__init__(worker, **kwargs)
        self._timer: Any = None
        self._heartbeat: Heartbeat | None = None

    def start(self, worker: Any) -> None:
        runtime = runtime_of(worker.app)
        settings = runtime.settings
        client = runtime.redis_client()
        self._heartbeat = Heartbeat(
            session_factory(settings),
            settings.deadline_seconds,
            runtime.device_limits(),
            (WorkerPresence(client), worker.hostname) if client is not None else None,
        )
        self._heartbeat.beat()  # alive from the start, not one period later
        self._timer = worker.timer.call_repeatedly(settings.heartbeat_seconds, self._heartbeat.beat)

    def stop(self, worker: Any) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._heartbeat is not None:
            self._heartbeat.close()
            self._heartbeat = None

    def terminate(self, worker: Any) -> None:
        self.stop(worker)
