"""A job outcome becomes outbox rows (immediate messages) and digest items (for later digests).

Idempotent: running it twice for the same job adds nothing, thanks to the unique keys.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.batches.models import Batch
from netraven_tasks.db import insert
from netraven_tasks.maintenance.matching import suppressing_window
from netraven_tasks.maintenance.models import MaintenanceWindow
from netraven_tasks.maintenance.suppression import record_suppressed
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
    alert_deliveries,
    deliveries_for,
    notify_on,
    recipients_for,
)
from netraven_tasks.notifications.rendering import JobSummary, RenderedMessage, Renderer, job_link
from netraven_tasks.routes.events import job_state_event
from netraven_tasks.routes.planning import any_route_enabled, plan_route_messages
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
    """Enqueue what the job's final outcome means for each recipient and each route it concerns
    (call inside a transaction). A failing streak is reminded of at most once per
    ``repeat_after`` (``alert_repeat(settings)``).

    Digest items list every run. Immediate messages follow each recipient's ``notify_on``: every
    outcome, or only the state changes of the run's scope (``schedules.alerts``). A fleet run's
    child says nothing of its own outcome (its batch's summary does: ``batch_summary``); a child
    of a scheduled batch still raises its device's state-change alerts.

    Inside a maintenance window that covers the run's device or schedule, the immediate messages
    and alerts are recorded as suppressed instead (the streak still counts the run; digests still
    list it)."""
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
    child = job.batch_id is not None
    schedule_id = job.schedule_id if job.batch_id is None else _batch_schedule_id(session, job.batch_id)
    scheduled = schedule_id is not None
    window = suppressing_window(session, device=job.device, schedule_id=schedule_id, at=now)
    for recipient in recipients_for(owner, admins):
        every_outcome = notify_on(recipient.preferences, scheduled) == "every_outcome"
        if child and (every_outcome or not scheduled):
            continue
        for delivery in [] if child else deliveries_for(recipient, job.status):
            if delivery.frequency != IMMEDIATE:
                planned.digest_items += add_digest_item(
                    session,
                    user_id=delivery.user_id,
                    period=delivery.frequency,
                    event=job.status,
                    job_log_id=job.id,
                )
            elif every_outcome and window is not None:
                _suppress(session, window, job, schedule_id, recipient, job.status)
            elif every_outcome:
                source = source or outcome_source(summary, renderer)
                outbox_id = _enqueue_outcome(session, recipient, delivery, job, source, mail_from, now)
                if outbox_id is not None:
                    planned.outbox_ids.append(outbox_id)
        if not every_outcome and change.alert is not None and window is not None:
            if alert_deliveries(recipient, change.alert):  # something would have been sent
                _suppress(session, window, job, schedule_id, recipient, change.alert)
        elif not every_outcome and change.alert is not None:
            source = source or outcome_source(summary, renderer)
            alert = state_alert(job, summary, change, source.rendered, renderer.public_url)
            planned.outbox_ids += enqueue_alert(session, recipient, alert, renderer, mail_from, now)
    # Routes hear of state changes: of single runs and of scheduled fleet runs' devices (an
    # unscheduled fleet run's devices are told of in its summary, as for people).
    if change.alert is not None and (not child or scheduled) and any_route_enabled(session):
        source = source or outcome_source(summary, renderer)
        alert = state_alert(job, summary, change, source.rendered, renderer.public_url)
        event = job_state_event(session, job, alert, renderer)
        planned.outbox_ids += plan_route_messages(session, event, mail_from, now)
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


def _suppress(
    session: Session,
    window: MaintenanceWindow,
    job: JobLog,
    schedule_id: int | None,
    recipient: Recipient,
    event: str,
) -> None:
    record_suppressed(
        session,
        window,
        event=event,
        job_log_id=job.id,
        schedule_id=schedule_id,
        device=job.device,
        user_id=recipient.user_id,
    )


def _batch_schedule_id(session: Session, batch_id: int) -> int | None:
    """The schedule that launched the child's batch, if any (one read per batch per transaction:
    the batch stays in the session's identity map)."""
    batch = session.get(Batch, batch_id)
    return batch.schedule_id if batch is not None else None


def add_digest_item(
    session: Session,
    *,
    user_id: int,
    period: str,
    event: str,
    job_log_id: int | None = None,
    batch_id: int | None = None,
) -> int:
    """One item of a recipient's next digest (a job outcome or a finished batch); 0 if it is there."""
    statement = (
        insert(session, DigestItem)
        .values(
            user_id=user_id,
            job_log_id=job_log_id,
            batch_id=batch_id,
            event=event,
            period=period,
            created_at=utcnow(),
        )
        .on_conflict_do_nothing()
        .returning(DigestItem.id)
    )
    return 1 if session.scalar(statement) is not None else 0
