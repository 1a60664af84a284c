"""A job outcome becomes outbox rows (immediate messages) and digest items (for later digests).

Idempotent: running it twice for the same job adds nothing, thanks to the unique keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.notifications.models import DigestItem
from netraven_tasks.notifications.outbox import enqueue_job_message, new_message_id
from netraven_tasks.notifications.recipients import IMMEDIATE, Delivery, Recipient, plan_deliveries
from netraven_tasks.notifications.rendering import JobSummary, Renderer, slack_payload, webhook_payload
from netraven_tasks.statuses import JobStatus


@dataclass
class PlannedNotifications:
    outbox_ids: list[int] = field(default_factory=list)
    digest_items: int = 0


def as_recipient(user: User) -> Recipient:
    return Recipient(
        user_id=user.id,
        username=user.username,
        email=user.email,
        is_admin=user.is_admin,
        active=user.active,
        preferences=dict(user.notification_preferences or {}),
    )


def plan_job_notifications(
    session: Session, job_log_id: int, renderer: Renderer, mail_from: str
) -> PlannedNotifications:
    """Enqueue what the job's final outcome means for each recipient (call inside a transaction)."""
    planned = PlannedNotifications()
    # Touch users before job_logs: the order in which TRUNCATE and migrations lock the tables,
    # so this short transaction never deadlocks with them.
    session.execute(select(User.id).limit(1))
    job = session.get(JobLog, job_log_id)
    if job is None or not JobStatus(job.status).is_terminal:
        return planned
    owner = as_recipient(job.owner) if job.owner is not None else None
    admins = []
    if owner is None:
        admins = [as_recipient(u) for u in session.scalars(select(User).where(User.is_admin, User.active))]
    summary = JobSummary.of(job)
    deliveries = plan_deliveries(owner, admins, job.status)
    rendered = renderer.job_outcome(summary) if deliveries else None
    for delivery in deliveries:
        if delivery.frequency != IMMEDIATE:
            planned.digest_items += _add_digest_item(session, delivery, job)
            continue
        assert rendered is not None
        payload = None
        if delivery.channel == "slack":
            payload = slack_payload(summary, renderer.public_url)
        elif delivery.channel == "webhook":
            payload = webhook_payload(summary, renderer.public_url)
        outbox_id = enqueue_job_message(
            session,
            user_id=delivery.user_id,
            channel=delivery.channel,
            job_log_id=job.id,
            event=job.status,
            address=delivery.address,
            subject=rendered.subject,
            body_text=rendered.text,
            body_html=rendered.html if delivery.channel == "email" else None,
            payload=payload,
            message_id=new_message_id(mail_from),
        )
        if outbox_id is not None:
            planned.outbox_ids.append(outbox_id)
    return planned


def _add_digest_item(session: Session, delivery: Delivery, job: JobLog) -> int:
    insert = postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert
    statement = (
        insert(DigestItem)
        .values(
            user_id=delivery.user_id,
            job_log_id=job.id,
            event=job.status,
            period=delivery.frequency,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(DigestItem.id)
    )
    return 1 if session.scalar(statement) is not None else 0
