"""Per-user quotas: schedules kept, runs launched per window, devices per batch.

They bound what one account can make the system do (a script creating schedules in a loop, a
client launching as fast as it can). Admins are exempt: they run the fleet's own schedules and can
change the limits anyway. Over a quota raises ``QuotaExceeded``; the API answers 429 with
``Retry-After``.
"""

from __future__ import annotations

from typing import Protocol

import redis
from limits import parse_many
from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.access.models import LaunchWindow
from netraven_tasks.db import insert
from netraven_tasks.models import User
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.settings import Settings

# Limits on a count, not a rate: only deleting (or narrowing) frees room, so this is a hint.
COUNT_RETRY_AFTER_SECONDS = 3600


class QuotaExceeded(Exception):
    """Over a quota: the message names the limit and its setting; retry after ``retry_after`` s."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


def ensure_schedule_quota(session: Session, owner_id: int, is_admin: bool, settings: Settings) -> None:
    """QuotaExceeded if a non-admin ``owner_id`` already has NETRAVEN_MAX_SCHEDULES_PER_USER."""
    if is_admin:
        return
    # The owner's row, locked to the end of the transaction: concurrent creations of one owner
    # take turns, so two cannot both see room for the last schedule.
    session.execute(select(User.id).where(User.id == owner_id).with_for_update())
    count = session.scalar(select(func.count()).select_from(Schedule).where(Schedule.owner_id == owner_id))
    limit = settings.max_schedules_per_user
    if (count or 0) >= limit:
        raise QuotaExceeded(
            f"you have {count} schedules, the most allowed (NETRAVEN_MAX_SCHEDULES_PER_USER={limit}); "
            "delete one you no longer need first",
            COUNT_RETRY_AFTER_SECONDS,
        )


def ensure_batch_size(devices: int, is_admin: bool, settings: Settings) -> None:
    """QuotaExceeded if a non-admin's batch targets more than NETRAVEN_MAX_BATCH_DEVICES devices."""
    limit = settings.max_batch_devices
    if not is_admin and devices > limit:
        raise QuotaExceeded(
            f"the targets select {devices} devices, more than the {limit} a batch may have "
            "(NETRAVEN_MAX_BATCH_DEVICES); narrow the targets or split the batch",
            COUNT_RETRY_AFTER_SECONDS,
        )


class LaunchCounter(Protocol):
    def hit(self, user_id: int, window_seconds: int, window_start: int) -> int:
        """Count one launch of ``user_id`` in the window; returns the window's count so far."""


class RedisLaunchCounter:
    """Fixed-window counters in Redis, shared by every API process; each key expires with its window."""

    def __init__(self, client: redis.Redis):
        self._client = client

    def hit(self, user_id: int, window_seconds: int, window_start: int) -> int:
        key = f"netraven:launches:{user_id}:{window_seconds}:{window_start}"
        pipe = self._client.pipeline(transaction=True)
        pipe.incr(key)
        pipe.expire(key, window_seconds + 1)
        count, _ = pipe.execute()
        return int(count)


class DatabaseLaunchCounter:
    """The same counters in ``launch_windows``, for the embedded default (no Redis)."""

    def __init__(self, sessions: sessionmaker[Session]):
        self._sessions = sessions

    def hit(self, user_id: int, window_seconds: int, window_start: int) -> int:
        with self._sessions.begin() as session:
            upsert = insert(session, LaunchWindow).values(
                user_id=user_id, window_seconds=window_seconds, window_start=window_start, launches=1
            )
            count = session.scalar(
                upsert.on_conflict_do_update(
                    index_elements=["user_id", "window_seconds", "window_start"],
                    set_={"launches": LaunchWindow.launches + 1},
                ).returning(LaunchWindow.launches)
            )
            session.execute(  # the user's older windows are done with
                delete(LaunchWindow).where(
                    LaunchWindow.user_id == user_id,
                    LaunchWindow.window_seconds == window_seconds,
                    LaunchWindow.window_start < window_start,
                )
            )
        return int(count or 0)


def ensure_launch_rate(
    counter: LaunchCounter, user_id: int, is_admin: bool, settings: Settings, now: float
) -> None:
    """Count a launch of a non-admin against each rate of NETRAVEN_LAUNCH_RATE_LIMIT (fixed
    windows, ``now`` in epoch seconds); QuotaExceeded, retry at the window's end, when over one."""
    if is_admin:
        return
    for rate in parse_many(settings.launch_rate_limit):
        window = rate.get_expiry()
        start = int(now // window * window)
        if counter.hit(user_id, window, start) > rate.amount:
            raise QuotaExceeded(
                f"more than {rate.amount} launches per {window} seconds "
                f"(NETRAVEN_LAUNCH_RATE_LIMIT={settings.launch_rate_limit!r}); wait for Retry-After",
                max(1, int(start + window - now + 0.999)),
            )
