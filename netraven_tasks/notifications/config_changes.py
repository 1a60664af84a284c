"""A changed configuration is news: one ``config_changed`` message per recipient and channel.

Planned in the transaction that stores the new version (``jobs/config_backup.py``), so it happens
exactly once per version: the outbox key (recipient, channel, ``config:<version id>``) keeps a
second planning from adding anything, and a version that is not a change (same content, or only
lines that change by themselves) plans nothing.

Recipients are those who may read the version and whose ``notify_on_config_change`` is on: every
active admin for the shared history, the user for their own history. In a fleet run the batch's
summary lists its devices' changes instead, unless a recipient's ``config_changes_in_batches`` is
``each``. Sent at once on every channel the recipient has (not into digests; SMS only carries
failures).
"""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.backups.store import StoredBackup
from netraven_tasks.batches.models import Batch
from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.notifications.alerting import Alert, enqueue_alert
from netraven_tasks.notifications.channels.spec import CONFIG_CHANGED, Recipient
from netraven_tasks.notifications.channels.webhook import config_change_payload
from netraven_tasks.notifications.planning import as_recipient
from netraven_tasks.notifications.rendering import (
    ConfigChange,
    Renderer,
    config_change_subject,
    config_diff_link,
)
from netraven_tasks.preferences import effective_preferences
from netraven_tasks.routes.events import config_change_event
from netraven_tasks.routes.planning import any_route_enabled, plan_route_messages


def alert_key(version_id: int) -> str:
    return f"config:{version_id}"


def readers(session: Session, namespace_owner_id: int | None) -> list[Recipient]:
    """Who may read a version: the shared history's admins, or the history's own user."""
    if namespace_owner_id is None:
        users = session.scalars(select(User).where(User.is_admin, User.active).order_by(User.id))
    else:
        users = session.scalars(select(User).where(User.id == namespace_owner_id, User.active))
    return [as_recipient(user) for user in users]


def wants_change(recipient: Recipient, in_batch: bool) -> bool:
    prefs = effective_preferences(recipient.preferences)
    if not prefs.get("notify_on_config_change", True):
        return False
    return not in_batch or prefs.get("config_changes_in_batches") == "each"


def plan_config_change(
    session: Session, stored: StoredBackup, renderer: Renderer, mail_from: str
) -> list[int]:
    """Enqueue the change's messages to its readers and the routes it concerns (call in the
    transaction that stored the version); returns the new outbox ids."""
    version, diff = stored.version, stored.diff
    if not version.changed or diff is None or stored.previous_sha256 is None:
        return []
    job = session.scalar(select(JobLog).where(JobLog.task_id == version.task_id)) if version.task_id else None
    batch = session.get(Batch, job.batch_id) if job is not None and job.batch_id is not None else None
    schedule_id = batch.schedule_id if batch is not None else (job.schedule_id if job is not None else None)
    launcher = session.get(User, version.launched_by_id) if version.launched_by_id is not None else None
    change = ConfigChange(
        device=version.device,
        sha256=version.sha256,
        previous_sha256=stored.previous_sha256,
        added=diff.added,
        removed=diff.removed,
        diff_lines=diff.lines,
        diff_omitted=diff.omitted,
        created_at=version.created_at,
        launched_by=launcher.username if launcher is not None else None,
        job_log_id=job.id if job is not None else None,
        batch_id=batch.id if batch is not None else None,
        schedule_id=schedule_id,
    )
    wanted = [r for r in readers(session, version.namespace_owner_id) if wants_change(r, batch is not None)]
    routes = any_route_enabled(session)
    if not wanted and not routes:
        return []
    rendered = renderer.config_changed(change)
    alert = Alert(
        event=CONFIG_CHANGED,
        headline=config_change_subject(change),
        lines=(),
        link=config_diff_link(renderer.public_url, change.device, change.sha256, change.previous_sha256),
        job_type="config_backup",
        job_log_id=change.job_log_id,
        alert_key=alert_key(version.id),
        rendered=rendered,
        payload=config_change_payload(change, renderer.public_url),
    )
    now = utcnow()
    ids = [
        outbox_id
        for recipient in wanted
        for outbox_id in enqueue_alert(session, recipient, alert, renderer, mail_from, now)
    ]
    if routes:
        team_id = job.team_id if job is not None else None
        event = config_change_event(session, alert, version.device, renderer, team_id)
        ids += plan_route_messages(session, event, mail_from, now)
    return ids
