"""The embedded default: the outbox, digests and the Maildir channel on SQLite, in process."""

from __future__ import annotations

import mailbox
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import sessionmaker

from netraven_tasks.db import make_engine
from netraven_tasks.migrate import upgrade
from netraven_tasks.models import JobLog
from netraven_tasks.notifications.channels.maildir import MaildirChannel
from netraven_tasks.notifications.digests import make_digests
from netraven_tasks.notifications.outbox import deliver_due
from netraven_tasks.notifications.planning import plan_job_notifications
from netraven_tasks.notifications.rendering import Renderer
from netraven_tasks.users import create_user


def test_failed_job_and_digest_land_in_the_maildir_on_sqlite(tmp_path):
    url = f"sqlite:///{tmp_path / 'embedded.db'}"
    upgrade(url)
    engine = make_engine(url)
    sessions = sessionmaker(engine, expire_on_commit=False)
    renderer = Renderer("http://127.0.0.1:8000")
    now = datetime.now(UTC)
    with sessions.begin() as session:
        admin = create_user(session, "admin", "admin@localhost", is_admin=True)
        hourly = create_user(session, "hourly", "hourly@localhost")
        hourly.notification_preferences = {
            **hourly.notification_preferences,
            "notification_frequency": "hourly",
        }
        session.flush()
        jobs = [
            JobLog(task_id=f"t{i}", job_type="reachability_check", device=f"10.0.0.{i}", owner_id=owner,
                   status="failed", attempts=1, queued_at=now, finished_at=now, error_type="OSError",
                   error_message="unreachable")
            for i, owner in enumerate([None, hourly.id])
        ]  # fmt: skip
        session.add_all(jobs)
        session.flush()
        ids = [job.id for job in jobs]
    with sessions.begin() as session:
        planned = [
            plan_job_notifications(session, job_id, renderer, "netraven@localhost", timedelta(hours=24))
            for job_id in ids
        ]
    with sessions.begin() as session:  # idempotent
        again = [
            plan_job_notifications(session, job_id, renderer, "netraven@localhost", timedelta(hours=24))
            for job_id in ids
        ]
    assert [len(p.outbox_ids) for p in planned] == [1, 0] and [p.digest_items for p in planned] == [0, 1]
    assert [len(p.outbox_ids) + p.digest_items for p in again] == [0, 0]

    channel = MaildirChannel(tmp_path / "maildir", "netraven@localhost")
    assert len(deliver_due(sessions, {"email": channel}).sent) == 1
    later = now + timedelta(hours=1)
    digests = make_digests(sessions, "hourly", later, renderer, "netraven@localhost")
    assert len(digests) == 1
    assert make_digests(sessions, "hourly", later, renderer, "netraven@localhost") == []
    assert len(deliver_due(sessions, {"email": channel}).sent) == 1

    box = mailbox.Maildir(tmp_path / "maildir", create=False)
    subjects = sorted(str(m["Subject"]) for m in box)
    assert subjects[0].startswith("NetRaven hourly digest: 1 job, 1 not completed")
    assert subjects[1] == "NetRaven job failed: reachability_check on 10.0.0.0"
    assert sorted(str(m["To"]) for m in box) == ["admin@localhost", "hourly@localhost"]
    engine.dispose()
    assert admin.id
