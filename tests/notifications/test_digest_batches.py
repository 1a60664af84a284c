"""Digests for many users: pending items are read in batches (a fixed number of statements per
batch, not per user), and each batch goes to the worker pool as one delivery on one SMTP
connection, counted at the server."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa

from netraven_tasks.notifications import tasks
from netraven_tasks.notifications.models import DigestItem
from tests.notifications.conftest import insert_failed_jobs

USERS = 45
ITEMS_EACH = 4


def test_many_digests_go_out_once_each_one_connection_per_batch_with_few_statements(
    settings, worker, mail, make_user, outbox, monkeypatch
):  # the worker delivers each batch: without the fixture the test passed only after one had started
    from netraven_tasks.db import get_engine, session_factory
    from netraven_tasks.notifications import digests

    monkeypatch.setattr(digests, "USERS_PER_BATCH", 20)  # three batches: 20, 20, 5
    users = [make_user(f"batch{i:02d}", notification_frequency="hourly") for i in range(USERS)]
    idle = make_user("idle", notification_frequency="hourly")  # nothing pending: no mail
    created = datetime.now(UTC) - timedelta(minutes=5)
    with session_factory(settings).begin() as session:
        for user_id in users:
            for job_log_id in insert_failed_jobs(settings, user_id, ITEMS_EACH):
                session.add(DigestItem(user_id=user_id, job_log_id=job_log_id, event="failed",
                                       period="hourly", created_at=created))  # fmt: skip

    statements: list[str] = []
    engine = get_engine(settings)

    def count(conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        if (
            "notification_digest_items" in statement
            or "FROM users" in statement
            or "FROM job_logs" in statement
        ):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        now = (datetime.now(UTC) + timedelta(hours=1)).isoformat()
        report = tasks.send_hourly_digest(now=now)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)

    assert report == {"digests": USERS, "deliveries": 3}
    received = mail.wait_for(USERS)
    assert sorted(m.rcpt_tos[0] for m in received) == sorted(
        f"batch{i:02d}@example.test" for i in range(USERS)
    )
    assert 1 <= len({m.peer for m in received}) <= 3  # one SMTP connection per batch at most
    assert all(m.part("plain").count("timed out") == ITEMS_EACH for m in received)
    # Set-based: the pending-user scan, then 4 reads/writes of items, users and jobs per batch of 20.
    assert len(statements) <= 1 + 3 * 4, statements
    assert [r for r in outbox(idle)] == []
    with session_factory(settings)() as session:
        waiting = session.scalar(
            sa.select(sa.func.count()).select_from(DigestItem).where(DigestItem.outbox_id.is_(None))
        )
    assert waiting == 0
    # And nothing more arrives: wait as long as the whole batch took to be received.
    time.sleep(2)
    assert len(mail.received) == USERS
