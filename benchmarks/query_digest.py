"""The digest part of the queries benchmark: N users x 20 pending items, one hourly digest run
through the real worker (the beat's task: it makes the digests a batch at a time and the worker
pool sends each batch), delivered to a real SMTP server on loopback (aiosmtpd) that counts
messages and connections."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller
from celery import Celery

from benchmarks.query_setup import BenchDatabase, Services, free_port
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.tasks import HOURLY_DIGEST_TASK

ITEMS_PER_USER = 20
ITEMS = """
INSERT INTO notification_digest_items (user_id, job_log_id, event, period, created_at)
SELECT u, (u - 1) * :per_user + k, 'failed', 'hourly', now() - interval '5 minutes'
FROM generate_series(1, :users) u, generate_series(1, :per_user) k
"""
MADE = "SELECT count(*), max(created_at) - min(created_at) FROM notification_outbox WHERE kind = 'digest'"
EXTRA_WAIT = 5.0  # after the last expected message: anything more would be a duplicate


@dataclass
class CountingHandler:
    """Counts the messages to the generated users (``user<N>@``); other mail, such as the
    notifications of the visibility samples' jobs, is accepted and not counted."""

    messages: int = 0
    recipients: set[str] = field(default_factory=set)
    peers: set[Any] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)
    last_at: float = 0.0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        if all(address.startswith("user") for address in envelope.rcpt_tos):
            with self.lock:
                self.messages += 1
                self.recipients.update(envelope.rcpt_tos)
                self.peers.add(tuple(session.peer))
                self.last_at = time.perf_counter()
        return "250 OK"


@contextmanager
def smtp_server(handler: Any = None) -> Iterator[tuple[str, Any]]:
    """An SMTP server on loopback with ``handler`` (a ``CountingHandler`` by default); yields its
    URL (as NETRAVEN_SMTP_URL) and the handler."""
    handler = handler if handler is not None else CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield f"smtp://127.0.0.1:{port}?timeout=30", handler
    finally:
        controller.stop()


def measure_digest(
    db: BenchDatabase, running: Services, handler: CountingHandler, users: int
) -> dict[str, Any]:
    """Seconds from publishing the hourly digest task to the last of ``users`` messages received."""
    db.execute(ITEMS, users=users, per_user=ITEMS_PER_USER)
    publisher = Celery(broker=running.env["NETRAVEN_BROKER_URL"])
    now = (utcnow() + timedelta(hours=1)).isoformat()
    started = time.perf_counter()
    publisher.send_task(HOURLY_DIGEST_TASK, kwargs={"now": now})
    deadline = time.monotonic() + 900
    while handler.messages < users and time.monotonic() < deadline:
        time.sleep(0.05)
    seconds = handler.last_at - started
    time.sleep(EXTRA_WAIT)
    with db.engine.connect() as connection:
        made, making = connection.exec_driver_sql(MADE).one()
    publisher.close()
    return {"seconds": seconds, "made_seconds": making.total_seconds() if making else float("nan"),
            "digests": made, "messages": handler.messages, "recipients": len(handler.recipients),
            "connections": len(handler.peers)}  # fmt: skip
