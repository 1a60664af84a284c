"""Per-device concurrency: how many jobs may hold a device, for how long, and how long a job waits.

A job takes a lease on its device (``devices/leases.py``) before it runs and gives it back after;
a job whose device is busy is deferred (``celery_integration.JobRequest``) and looks again after
a short jittered wait. This module only decides the numbers.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from netraven_tasks import backoff
from netraven_tasks.devices.leases import KEY_LENGTH, Lease, LeaseStore
from netraven_tasks.jobs.registry import JobType
from netraven_tasks.settings import Settings

# The first wait of a deferred job; each further deferral doubles it, up to
# NETRAVEN_DEVICE_WAIT_MAX_SECONDS, spread by +/- half so waiters do not come back together.
FIRST_WAIT_SECONDS = 0.5
WAIT_JITTER = 0.5


@dataclass(frozen=True)
class DeviceLimits:
    store: LeaseStore
    settings: Settings

    def limit(self, declared: JobType) -> int:
        """Jobs that may run against one device at once, as this job type sees it."""
        return declared.device_concurrency or self.settings.device_concurrency

    def lease_seconds(self, declared: JobType) -> float:
        """A lease's lifetime, renewed by the worker's heartbeat: the heartbeat deadline, or a
        little above the job's time limit when that is sooner (Celery ends the job by then)."""
        deadline = self.settings.deadline_seconds
        if declared.time_limit is None:
            return deadline
        return min(deadline, declared.time_limit + self.settings.heartbeat_seconds)

    def lease(self, declared: JobType, device: str, task_id: str) -> Lease:
        return Lease(device, task_id[:KEY_LENGTH], self.lease_seconds(declared))

    def take(self, declared: JobType, device: str, task_id: str) -> bool:
        """Take a lease on ``device`` for the run ``task_id``; False when the device is busy.
        Taking it again for the same run (a redelivered or retried message) succeeds."""
        return self.store.acquire(self.lease(declared, device, task_id), self.limit(declared))

    def give_back(self, device: str, task_id: str) -> None:
        self.store.release(device, task_id[:KEY_LENGTH])

    def renew(self, running: Iterable[tuple[JobType, str, str]]) -> None:
        """Renew the leases of the running (job type, device, task id)s."""
        self.store.renew([self.lease(declared, device, task_id) for declared, device, task_id in running])

    def wait_seconds(self, deferrals: int) -> float:
        """How long a job deferred for the ``deferrals``-th time waits before it looks again."""
        cap = self.settings.device_wait_max_seconds
        return backoff.delay(deferrals, min(FIRST_WAIT_SECONDS, cap), cap, jitter=WAIT_JITTER)
