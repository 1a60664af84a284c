"""The digest part of the queries benchmark: N users x 20 pending items, one hourly digest run,
delivered to a real SMTP server on loopback (aiosmtpd) that counts messages and connections."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy.orm import Session, sessionmaker

from benchmarks.query_setup import BenchDatabase, free_port
from netraven_tasks.models import utcnow
from netraven_tasks.settings import Settings

ITEMS_PER_USER = 20
ITEMS = """
INSERT INTO notification_digest_items (user_id, job_log_id, event, period, created_at)
SELECT u, (u - 1) * :per_user + k, 'failed', 'hourly', now() - interval '5 minutes'
FROM generate_series(1, :users) u, generate_series(1, :per_user) k
"""


@dataclass
class CountingHandler:
    messages: int = 0
    peers: set[Any] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages += 1
            self.peers.add(tuple(session.peer))
        return "250 OK"


def measure_digest(db: BenchDatabase, settings: Settings, users: int) -> dict[str, Any]:
    """Seconds for the hourly digest of ``users`` users (making + sending), messages and connections."""
    from dataclasses import replace

    from netraven_tasks.notifications.channels import build_channels
    from netraven_tasks.notifications.digests import make_digests
    from netraven_tasks.notifications.outbox import deliver_due
    from netraven_tasks.notifications.rendering import Renderer

    db.execute(ITEMS, users=users, per_user=ITEMS_PER_USER)
    handler = CountingHandler()
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        settings = replace(settings, smtp_url=f"smtp://127.0.0.1:{port}?timeout=30")
        sessions: sessionmaker[Session] = sessionmaker(db.engine, expire_on_commit=False)
        started = time.perf_counter()
        made = make_digests(sessions, "hourly", utcnow() + timedelta(hours=1), Renderer(settings.public_url),
                            settings.mail_from)  # fmt: skip
        rendered = time.perf_counter() - started
        report = deliver_due(sessions, build_channels(settings), only=made, limit=len(made))
        seconds = time.perf_counter() - started
        deadline = time.monotonic() + 5  # the server counts a message once it answered its DATA
        while handler.messages < len(report.sent) and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        controller.stop()
    return {"seconds": seconds, "made_seconds": rendered, "digests": len(made), "messages": handler.messages,
            "connections": len(handler.peers)}  # fmt: skip
