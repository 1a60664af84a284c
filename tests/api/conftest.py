"""Fixtures of the API tests: the Flask test client and three users (alice, bob, an admin) with tokens."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest


@dataclass(frozen=True)
class ApiUser:
    id: int
    username: str
    password: str
    token: str

    @property
    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@dataclass(frozen=True)
class Users:
    alice: ApiUser
    bob: ApiUser
    admin: ApiUser


@pytest.fixture(scope="session")
def app(settings):  # type: ignore[no-untyped-def]
    from api import create_app

    flask_app = create_app(settings)
    flask_app.testing = True
    return flask_app


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def make_api_user(settings, clean_db) -> Callable[..., ApiUser]:  # type: ignore[no-untyped-def]
    """Create a user with a password and a token (after clean_db, so each test starts empty)."""
    from netraven_tasks.auth import issue_token
    from netraven_tasks.db import session_factory
    from netraven_tasks.users import create_user

    def make(name: str, *, admin: bool = False, password: str | None = None) -> ApiUser:
        password = password or f"{name}-password"
        with session_factory(settings).begin() as session:
            user = create_user(session, name, f"{name}@example.test", password, is_admin=admin)
            return ApiUser(user.id, name, password, issue_token(user, settings))

    return make


@pytest.fixture
def users(make_api_user) -> Users:  # type: ignore[no-untyped-def]
    return Users(
        alice=make_api_user("alice"),
        bob=make_api_user("bob"),
        admin=make_api_user("root", admin=True),
    )


@pytest.fixture
def insert_job_logs(settings) -> Callable[..., list[int]]:  # type: ignore[no-untyped-def]
    """Insert job-log rows directly (known timestamps and durations); returns their ids."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog

    counter = iter(range(1, 10**9))

    def insert(rows: list[dict[str, Any]]) -> list[int]:
        with session_factory(settings).begin() as session:
            jobs = []
            for row in rows:
                queued_at: datetime = row["queued_at"]
                values = {
                    "task_id": f"inserted-{next(counter)}-{queued_at.timestamp()}",
                    "job_type": "test_flaky",
                    "status": "completed",
                    "attempts": 1,
                    **row,
                }
                if values.get("duration_seconds") is not None and "finished_at" not in values:
                    values["started_at"] = queued_at
                    values["finished_at"] = queued_at + timedelta(seconds=values["duration_seconds"])
                job = JobLog(**values)
                session.add(job)
                jobs.append(job)
            session.flush()
            return [job.id for job in jobs]

    return insert
