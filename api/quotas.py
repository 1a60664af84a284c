"""The per-user quotas at the API's edge: each becomes a 429 JSON error with ``Retry-After``."""

from __future__ import annotations

import time

import redis
from flask import current_app

from api.context import current_settings
from api.security import current_caller
from netraven_tasks.db import session_factory
from netraven_tasks.quotas import (
    DatabaseLaunchCounter,
    LaunchCounter,
    RedisLaunchCounter,
    ensure_launch_rate,
)

_COUNTER_KEY = "netraven_launch_counter"


def _launch_counter() -> LaunchCounter:
    """One counter per API process: in Redis when there is one (shared by every process),
    else in the database (shared too, where the embedded default has no Redis)."""
    counter: LaunchCounter | None = current_app.extensions.get(_COUNTER_KEY)
    if counter is None:
        settings = current_settings()
        counter = (
            RedisLaunchCounter(redis.Redis.from_url(url))
            if (url := settings.redis_url_in_use)
            else DatabaseLaunchCounter(session_factory(settings))
        )
        current_app.extensions[_COUNTER_KEY] = counter
    return counter


def count_launch() -> None:
    """Count one launch by the caller (NETRAVEN_LAUNCH_RATE_LIMIT); QuotaExceeded (429, api/error_map.py)
    when over the rate."""
    caller = current_caller()
    ensure_launch_rate(_launch_counter(), caller.id, caller.is_admin, current_settings(), time.time())
