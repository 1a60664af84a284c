"""One summary per fleet run: when a batch settles, each recipient gets one ``batch_finished``
message per channel they use, or one digest item, instead of a message per device.

Planned in the transaction that settles the batch's last child (the recorder's, a cancel's, a
failed publish's), so it happens exactly once; the outbox's unique key (recipient, channel,
``batch:<id>``) and the digest item's (batch, recipient) keep a second planning (the fallback
task, a replay) from adding anything.

Recipients are the batch's owner (the schedule's owner for a scheduled batch), or every active
admin for an ownerless one. Whether a recipient hears of it follows the outcome flags: a batch
that completed is a completion, any other end (partial, failed, canceled) a failure.
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from netraven_tasks.backups.models import ConfigBackup
from netraven_tasks.batches.models import Batch, BatchStatus
from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.notifications.alerting import email_hold, message_values
from netraven_tasks.notifications.channels.spec import MessageSource
from netraven_tasks.notifications.channels.webhook import batch_payload
from netraven_tasks.notifications.models import MessageKind
from netraven_tasks.notifications.outbox import enqueue, new_message_id
from netraven_tasks.notifications.planning import PlannedNotifications, add_digest_item, as_recipient
from netraven_tasks.notifications.recipients import IMMEDIATE, deliveries_for, recipients_for
from netraven_tasks.notifications.rendering import BatchReport, DeviceChange, DeviceOutcome, Renderer
from netraven_tasks.routes.events import batch_finished_event
from netraven_tasks.routes.planning import any_route_enabled, plan_route_messages
from netraven_tasks.statuses import JobStatus

EVENT = "batch_finished"
FAILED_LISTED = 1_000  # failed devices a summary carries (the webhook's JSON lists them all up to this)
SLOWEST_LISTED = 5
ERROR_LINE_LIMIT = 300


def alert_key(batch_id: int) -> str:
    """The outbox key of a batch's summary: one per (recipient, channel, batch)."""
    return f"batch:{batch_id}"


def outcome_status(batch_status: str) -> JobStatus:
    """How the completion/failure preferences read a batch: completed, or not."""
    return JobStatus.COMPLETED if batch_status == BatchStatus.COMPLETED.value else JobStatus.FAILED


def batch_report(session: Session, batch: Batch, failed_listed: int = FAILED_LISTED) -> BatchReport:
    """The batch's summary: its counters (one row), its first ``failed_listed`` failed children
    by name and its slowest ones, read through ``ix_job_logs_batch_status``, and the devices whose
    configuration its backups found changed (through ``ix_config_backups_task_id``)."""
    first_line = func.substr(JobLog.error_message, 1, ERROR_LINE_LIMIT)
    failed = session.execute(
        select(JobLog.id, JobLog.device, JobLog.status, JobLog.error_type, first_line)
        .where(JobLog.batch_id == batch.id, JobLog.status == JobStatus.FAILED.value)
        .order_by(JobLog.device, JobLog.id)
        .limit(failed_listed)
    )
    slowest = session.execute(
        select(JobLog.id, JobLog.device, JobLog.status, JobLog.duration_seconds)
        .where(
            JobLog.batch_id == batch.id,
            JobLog.status.in_([JobStatus.COMPLETED.value, JobStatus.FAILED.value]),
            JobLog.duration_seconds.is_not(None),
        )
        .order_by(JobLog.duration_seconds.desc(), JobLog.id)
        .limit(SLOWEST_LISTED)
    )
    changes = session.execute(
        select(JobLog.device, ConfigBackup.lines_added, ConfigBackup.lines_removed, ConfigBackup.sha256)
        .join(ConfigBackup, ConfigBackup.task_id == JobLog.task_id)
        .where(JobLog.batch_id == batch.id, ConfigBackup.changed)
        .order_by(JobLog.device, ConfigBackup.id)
        .limit(failed_listed)
    )
    return BatchReport(
        batch_id=batch.id,
        job_type=batch.job_type,
        status=batch.status,
        total=batch.total,
        counts=batch.counts(),
        created_at=batch.created_at,
        finished_at=batch.finished_at,
        schedule_id=batch.schedule_id,
        failed=[
            DeviceOutcome(
                job_log_id=row.id,
                device=row.device or "",
                status=row.status,
                error_type=row.error_type,
                error_line=(str(row[4] or "").strip().splitlines() or [""])[0],
            )
            for row in failed
        ],
        slowest=[
            DeviceOutcome(
                job_log_id=row.id,
                device=row.device or "",
                status=row.status,
                duration_seconds=row.duration_seconds,
            )
            for row in slowest
        ],
        changes=[
            DeviceChange(
                device=row.device or "",
                added=row.lines_added or 0,
                removed=row.lines_removed or 0,
                sha256=row.sha256,
            )
            for row in changes
        ],
    )


def batch_reports(session: Session, batch_ids: Iterable[int], failed_listed: int) -> dict[int, BatchReport]:
    """The summaries of these batches (a digest's), by id; a purged batch is left out."""
    batches = session.scalars(select(Batch).where(Batch.id.in_(sorted(set(batch_ids)))))
    return {batch.id: batch_report(session, batch, failed_listed) for batch in batches}


def plan_batch_summary(
    session: Session, batch_id: int, renderer: Renderer, mail_from: str
) -> PlannedNotifications:
    """Enqueue the summary of a settled batch for each recipient and each route it concerns
    (call inside a transaction)."""
    planned = PlannedNotifications()
    batch = session.get(Batch, batch_id)
    if batch is None or batch.status == BatchStatus.RUNNING.value:
        return planned
    owner = session.get(User, batch.owner_id) if batch.owner_id is not None else None
    admins = (
        [] if owner is not None else list(session.scalars(select(User).where(User.is_admin, User.active)))
    )
    status = outcome_status(batch.status)
    now = utcnow()
    source: MessageSource | None = None  # read and rendered once, for the first message that needs it
    report: BatchReport | None = None
    for recipient in recipients_for(
        as_recipient(owner) if owner is not None else None, [as_recipient(user) for user in admins]
    ):
        for delivery in deliveries_for(recipient, status):
            if delivery.frequency != IMMEDIATE:
                planned.digest_items += add_digest_item(
                    session,
                    user_id=delivery.user_id,
                    period=delivery.frequency,
                    event=EVENT,
                    batch_id=batch.id,
                )
                continue
            if source is None:
                report, source = _summary(session, batch, renderer)
            outbox_id = enqueue(
                session,
                kind=MessageKind.JOB.value,
                event=EVENT,
                alert_key=alert_key(batch.id),
                message_id=new_message_id(mail_from),
                next_attempt_at=email_hold(
                    recipient, delivery, now, job_type=batch.job_type, event=str(status)
                ),
                **message_values(delivery, source),
            )
            if outbox_id is not None:
                planned.outbox_ids.append(outbox_id)
    if any_route_enabled(session):
        if source is None or report is None:
            report, source = _summary(session, batch, renderer)
        event = batch_finished_event(batch, report, source)
        planned.outbox_ids += plan_route_messages(session, event, mail_from, now)
    return planned


def _summary(session: Session, batch: Batch, renderer: Renderer) -> tuple[BatchReport, MessageSource]:
    """The batch's report and what every channel's message about it is made of."""
    report = batch_report(session, batch)
    source = MessageSource(
        renderer.batch_finished(report),
        batch_payload(report, renderer.public_url),
        public_url=renderer.public_url,
        batch=report,
    )
    return report, source
