"""Fixtures of the notification tests: an HTTP receiver, users with preferences (the SMTP server is
in tests/conftest.py: the dashboard's browser tests read its mail too, and one port takes one server)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from sqlalchemy import func, select

from tests.conftest import eventually


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


@dataclass
class HttpReceiver:
    """A little HTTP server on 127.0.0.1: records every request, answers from ``statuses``."""

    port: int = 0
    requests: list[dict[str, Any]] = field(default_factory=list)
    statuses: list[int] = field(default_factory=list)  # consumed one per request; then 200
    body: bytes = b"ok"
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def wait_for(self, count: int, timeout: float = 30.0) -> list[dict[str, Any]]:
        return eventually(lambda: len(self.requests) >= count and list(self.requests), timeout, "requests")


@pytest.fixture
def http_receiver() -> Iterator[HttpReceiver]:
    receiver = HttpReceiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            raw = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            with receiver.lock:
                status = receiver.statuses.pop(0) if receiver.statuses else 200
                receiver.requests.append(
                    {
                        "path": self.path,
                        "headers": {k.lower(): v for k, v in self.headers.items()},  # case-insensitive
                        "raw": raw,
                        "json": json.loads(raw or b"null"),
                        "status": status,
                    }
                )
            body = receiver.body if status == 200 else b"error"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield receiver
    server.shutdown()
    server.server_close()
    thread.join()
