"""Planning the notifications of a whole recorded batch, inside the recorder's own transaction.

Why: publishing one ``notify_job_outcome`` task per finished job made the worker pool run two
Celery tasks per job and one planning transaction each. Here the recorder plans every job that
became terminal in the batch it is writing, in a savepoint of the same transaction (the outbox's
unique keys keep it exactly-once, and a crash between commit and planning cannot lose one), then
wakes delivery with one task per batch, only when an immediate message is due. If planning
fails, the savepoint is rolled back, the tracking rows are still committed, and those jobs fall
back to one ``notify_job_outcome`` task each.

A fleet run that this transaction settled (its last child ended here) gets its one summary planned
here too (``batch_summary``); if that fails, one ``notify_batch_finished`` task plans it later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from netraven_tasks.models import JobLog
from netraven_tasks.notifications.batch_summary import plan_batch_summary
from netraven_tasks.notifications.planning import alert_repeat, plan_job_notifications
from netraven_tasks.notifications.rendering import Renderer
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.transitions import Outcome

log = logging.getLogger(__name__)

Publish = Callable[..., Any]  # app.send_task


@dataclass
class BatchPlan:
    outbox_ids: list[int] = field(default_factory=list)
    unplanned: list[int] = field(default_factory=list)  # job-log ids left to notify_job_outcome
    unplanned_batches: list[int] = field(default_factory=list)  # batch ids left to notify_batch_finished


class NotificationPlanner:
    """Plans a batch's notifications in its transaction; wakes delivery after the commit.

    ``settings`` are those the integration was installed with (sender, alert repeat)."""

    def __init__(
        self,
        renderer: Callable[[], Renderer],
        settings: Settings,
        publish: Publish,
        deliver_task: str,
        notify_task: str,
        notify_batch_task: str,
    ):
        self._renderer = renderer
        self._mail_from = settings.mail_from
        self._repeat_after = alert_repeat(settings)
        self._publish = publish
        self._deliver_task = deliver_task
        self._notify_task = notify_task
        self._notify_batch_task = notify_batch_task

    def plan(self, session: Session, outcomes: Sequence[Outcome]) -> BatchPlan:
        """Inside the write transaction: enqueue what every job that just ended means, and the
        summary of every fleet run that just settled."""
        plan = self._plan_jobs(session, outcomes)
        settled = sorted({o.settled.batch_id for o in outcomes if o.settled is not None})
        for batch_id in settled:
            try:
                with session.begin_nested():
                    planned = plan_batch_summary(session, batch_id, self._renderer(), self._mail_from)
                plan.outbox_ids.extend(planned.outbox_ids)
            except Exception:
                log.exception("could not plan the summary of batch %d; one task will", batch_id)
                plan.unplanned_batches.append(batch_id)
        return plan

    def _plan_jobs(self, session: Session, outcomes: Sequence[Outcome]) -> BatchPlan:
        job_log_ids = sorted({o.job_log_id for o in outcomes if o.became_terminal})
        if not job_log_ids:
            return BatchPlan()
        try:
            with session.begin_nested():
                # One query loads the batch's rows and owners; each plan below then finds its
                # job in the session instead of asking for it.
                list(
                    session.scalars(
                        select(JobLog).where(JobLog.id.in_(job_log_ids)).options(selectinload(JobLog.owner))
                    )
                )
                plan = BatchPlan()
                for job_log_id in job_log_ids:
                    planned = plan_job_notifications(
                        session, job_log_id, self._renderer(), self._mail_from, self._repeat_after
                    )
                    plan.outbox_ids.extend(planned.outbox_ids)
                return plan
        except Exception:
            log.exception("could not plan the notifications of %d job(s); one task each", len(job_log_ids))
            return BatchPlan(unplanned=job_log_ids)

    def after_commit(self, plan: BatchPlan) -> None:
        """Wake delivery once for the batch; a lost wake-up is covered by beat's periodic run."""
        try:
            if plan.outbox_ids:
                self._publish(self._deliver_task, kwargs={"ids": plan.outbox_ids})
            for job_log_id in plan.unplanned:
                self._publish(self._notify_task, args=[job_log_id])
            for batch_id in plan.unplanned_batches:
                self._publish(self._notify_batch_task, args=[batch_id])
        except Exception:
            log.exception("could not wake notification delivery; beat's periodic delivery will send them")
