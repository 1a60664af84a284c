"""Fixtures of the notification tests: an HTTP receiver, users with preferences (the SMTP server is
in tests/conftest.py: the dashboard's browser tests read its mail too, and one port takes one server)."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest
import redis
from celery import Celery
from sqlalchemy import func, select

from tests.conftest import SPARE_REDIS_URL
from tests.support.receiver import HttpReceiver, http_receiver

__all__ = ["HttpReceiver", "http_receiver"]  # the receiver fixture, shared with tests/api


@pytest.fixture
def make_user(settings, clean_db) -> Callable[..., int]:  # type: ignore[no-untyped-def]
    """Create a user with the given preferences (over the defaults); returns its id."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.preferences import DEFAULT_PREFERENCES
    from netraven_tasks.users import create_user

    def make(name: str, *, admin: bool = False, active: bool = True, **preferences: Any) -> int:
        with session_factory(settings).begin() as session:
            user = create_user(session, name, f"{name}@example.test", is_admin=admin)
            user.notification_preferences = {**DEFAULT_PREFERENCES, **preferences}
            user.active = active
            return user.id

    return make


SENTINEL = "sentinel@example.test"


@pytest.fixture
def settled_mail(settings, mail, make_user, wait_for_job) -> Callable[[], list[Any]]:  # type: ignore[no-untyped-def]
    """All mail but a sentinel's, once the sentinel job's failure mail arrived: it goes through the
    same worker, notify task, outbox and SMTP server as the test's jobs, so a duplicate or stray
    message of theirs has had as long to arrive as a real one takes (negative checks wait on it)."""
    from netraven_tasks.jobs.launch import launch_job

    def settle() -> list[Any]:
        sentinel = make_user(SENTINEL.split("@")[0])
        wait_for_job(launch_job(settings, "test_broken", {"host": "sentinel"}, sentinel).job_log_id)
        mail.wait_for(1, address=SENTINEL)
        return [m for m in mail.received if SENTINEL not in m.rcpt_tos]

    return settle


@pytest.fixture
def set_preferences(settings) -> Callable[..., None]:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import User

    def update(user_id: int, **preferences: Any) -> None:
        with session_factory(settings).begin() as session:
            user = session.get(User, user_id)
            user.notification_preferences = {**user.notification_preferences, **preferences}

    return update


@pytest.fixture
def outbox(settings) -> Callable[..., list[Any]]:  # type: ignore[no-untyped-def]
    """The outbox rows (optionally of one user), oldest first."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.notifications.models import OutboxMessage

    def rows(user_id: int | None = None) -> list[Any]:
        with session_factory(settings)() as session:
            query = select(OutboxMessage).order_by(OutboxMessage.id)
            if user_id is not None:
                query = query.where(OutboxMessage.user_id == user_id)
            return list(session.scalars(query))

    return rows


@pytest.fixture
def count_rows(settings) -> Callable[[Any], int]:  # type: ignore[no-untyped-def]
    from netraven_tasks.db import session_factory

    def count(model: Any) -> int:
        with session_factory(settings)() as session:
            return int(session.scalar(select(func.count()).select_from(model)) or 0)

    return count


def insert_failed_jobs(settings, owner: int, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    """Failed job-log rows made directly (no worker): input for the outbox tests."""
    import uuid
    from datetime import UTC, datetime

    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog

    now = datetime.now(UTC)
    with session_factory(settings).begin() as session:
        jobs = [
            JobLog(
                task_id=str(uuid.uuid4()),
                job_type="config_backup",
                device=f"sw-{n:02d}",
                owner_id=owner,
                status="failed",
                attempts=1,
                queued_at=now,
                started_at=now,
                finished_at=now,
                duration_seconds=1.5,
                error_type="TimeoutError",
                error_message=f"sw-{n:02d} timed out",
            )
            for n in range(count)
        ]
        session.add_all(jobs)
        session.flush()
        return [job.id for job in jobs]


@pytest.fixture
def broker(spare_redis: redis.Redis) -> tuple[Celery, redis.Redis]:
    """A real Celery app on a Redis db no worker reads: what the planner publishes stays there."""
    # Not the current app: tasks bound later in the session (task.app) must keep the real one.
    return Celery("planning-test", broker=SPARE_REDIS_URL, set_as_current=False), spare_redis


def published(client: redis.Redis) -> list[tuple[str, list, dict]]:  # type: ignore[type-arg]
    """The tasks published to the broker's default queue: (name, args, kwargs)."""
    messages = [json.loads(raw) for raw in client.lrange("celery", 0, -1)]
    bodies = [(m["headers"]["task"], json.loads(base64.b64decode(m["body"]))) for m in messages]
    return [(name, body[0], body[1]) for name, body in bodies]
