"""What code below the Celery integration may ask of it, without importing it.

``celery_integration.install(app, settings)`` puts its object on the app as ``app.netraven``
and makes it this process's default. Tasks reach it through ``self.app``, library code
(launching, canceling) through the app it is given, or the default when the caller gives none.
Not Celery's ``current_app``: any ``Celery(...)`` made later (a test's, a script's) becomes that.
"""

from __future__ import annotations

from typing import Any, Protocol

import redis
from celery import Celery

from netraven_tasks.jobs.device_limits import DeviceLimits
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.isolation import BatchPlanner
from netraven_tasks.tracking.live import LiveFeed
from netraven_tasks.tracking.recorder import Recorder, TerminalHook

APP_ATTRIBUTE = "netraven"


class Runtime(Protocol):
    """This process's connections and recorder for one Celery app (made lazily, reset at fork)."""

    app: Celery
    settings: Settings
    terminal_hooks: list[TerminalHook]  # run after a commit that ended runs (a batch's cancel)

    def redis_client(self) -> redis.Redis | None: ...

    def live_feed(self) -> LiveFeed | None: ...

    def recorder(self) -> Recorder: ...

    def planner(self) -> BatchPlanner: ...  # notifications, planned in a write's own transaction

    def replay_spool(self) -> bool: ...

    def device_limits(self) -> DeviceLimits: ...


class _Default:
    """The runtime of the app this process installed last (``netraven_tasks.celery_app``'s)."""

    runtime: Runtime | None = None


def set_default(runtime: Runtime) -> None:
    _Default.runtime = runtime


def runtime_of(app: Any = None) -> Runtime:
    """The integration installed on ``app``; this process's default if none is (or no app given:
    a shared task called directly belongs to whichever app is current, e.g. a test's)."""
    runtime: Runtime | None = getattr(app, APP_ATTRIBUTE, None) or _Default.runtime
    if runtime is None:
        raise RuntimeError(
            f"no NetRaven integration on the Celery app {getattr(app, 'main', None)!r}: import "
            "netraven_tasks.celery_app (or call celery_integration.install(app, settings)) first"
        )
    return runtime
