"""A job outcome becomes outbox rows (immediate messages) and digest items (for later digests).

Idempotent: running it twice for the same job adds nothing, thanks to the unique keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.db import insert
from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.notifications.alerting import Alert, email_hold, enqueue_alert, message_values
from netraven_tasks.notifications.channels.spec import MessageSource
from netraven_tasks.notifications.channels.webhook import webhook_payload
from netraven_tasks.notifications.models import DigestItem
from netraven_tasks.notifications.outbox import enqueue_job_message, new_message_id
from netraven_tasks.notifications.recipients import (
    IMMEDIATE,
    Delivery,
    Recipient,
    deliveries_for,
    notify_on,
    recipients_for,
)
from netraven_tasks.notifications.rendering import JobSummary, RenderedMessage, Renderer, job_link
from netraven_tasks.schedules.alerts import FAILED, STILL_FAILING, StreakChange, advance_streak
from netraven_tasks.settings import Settings
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


def alert_repeat(settings: Settings) -> timedelta:
    """How long a failing streak stays quiet before "still failing": NETRAVEN_REPEAT_ALERT_HOURS."""
    return timedelta(hours=settings.repeat_alert_hours)


def plan_job_notifications(
    session: Session,
    job_log_id: int,
    renderer: Renderer,
    mail_from: str,
    repeat_after: timedelta,
) -> PlannedNotifications:
    """Enqueue what the job's final outcome means for each recipient (call inside a transaction).
    A failing streak is reminded of at most once per ``repeat_after`` (``alert_repeat(settings)``).

    Digest items list every run. Immediate messages follow each recipient's ``notify_on``: every
    outcome, or only the state changes of the run's scope (``schedules.alerts``)."""
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
    change = advance_streak(session, job, repeat_after)
    now = utcnow()
    source: MessageSource | None = None  # rendered once, for the first message that needs it
    for recipient in recipients_for(owner, admins):
        every_outcome = notify_on(recipient.preferences, job.schedule_id is not None) == "every_outcome"
        for delivery in deliveries_for(recipient, job.status):
            if delivery.frequency != IMMEDIATE:
                planned.digest_items += _add_digest_item(session, delivery, job)
            elif every_outcome:
                source = source or outcome_source(summary, renderer)
                outbox_id = _enqueue_outcome(session, recipient, delivery, job, source, mail_from, now)
                if outbox_id is not None:
                    planned.outbox_ids.append(outbox_id)
        if not every_outcome and change.alert is not None:
            source = source or outcome_source(summary, renderer)
            alert = state_alert(job, summary, change, source.rendered, renderer.public_url)
            planned.outbox_ids += enqueue_alert(session, recipient, alert, renderer, mail_from, now)
    return planned


def outcome_source(summary: JobSummary, renderer: Renderer) -> MessageSource:
    """What every channel's message about one job outcome is made of."""
    public_url = renderer.public_url
    return MessageSource(
        renderer.job_outcome(summary), webhook_payload(summary, public_url), summary, public_url
    )


def _enqueue_outcome(
    session: Session,
    recipient: Recipient,
    delivery: Delivery,
    job: JobLog,
    source: MessageSource,
    mail_from: str,
    now: datetime,
) -> int | None:
    return enqueue_job_message(
        session,
        job_log_id=job.id,
        event=job.status,
        message_id=new_message_id(mail_from),
        next_attempt_at=email_hold(recipient, delivery, now, job_type=job.job_type, event=job.status),
        **message_values(delivery, source),
    )


def state_alert(
    job: JobLog, summary: JobSummary, change: StreakChange, rendered: RenderedMessage, public_url: str
) -> Alert:
    """The alert of a state change: the outcome's own message for a first failure, else a short one."""
    target = f"{job.job_type}" + (f" on {job.device}" if job.device else "")
    streak = change.streak
    since = streak.failing_since.strftime("%H:%M UTC") if streak.failing_since else "?"
    link = job_link(public_url, job.id)
    if change.alert == FAILED:
        headline, lines = rendered.subject, []
    elif change.alert == STILL_FAILING:
        headline = f"{target} still failing: {streak.failures} runs since {since}"
        lines = [f"Latest error: {job.error_type or 'Error'}: {job.error_message or ''}"]
    else:
        headline = f"{target} recovered"
        lines = [f"Run {job.id} completed after earlier failures."]
    return Alert(
        event=str(change.alert),
        headline=headline,
        lines=lines,
        link=link,
        job_type=job.job_type,
        job_log_id=job.id,
        rendered=rendered if change.alert == FAILED else None,
        payload={
            **webhook_payload(summary, public_url),
            "event": f"job.{change.alert}",
            "headline": headline,
        },
    )


def _add_digest_item(session: Session, delivery: Delivery, job: JobLog) -> int:
    statement = (
        insert(session, DigestItem)
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
