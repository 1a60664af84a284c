"""The missed-run check: is each enabled schedule's latest slot started by slot + grace?

A slot whose grace has passed without a started run makes the schedule ``late``; once the next
slot has passed too it is ``missed`` and the owner and the matching routes are told (once per
incident); the first started run after that ends the incident with ``recovered``. A slot a
maintenance window skipped counts as started, and inside a window covering the schedule the
alerts are recorded as suppressed. It judges the job logs, not beat, so it runs outside beat: in
the recorder every worker runs (``start_watch``). Several recorders may check at once: each
schedule is judged under its row lock (skip-locked), and each alert's outbox key is the
incident's first slot, so it is enqueued once however often it is judged.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from celery import Celery
from sqlalchemy import exists, or_, select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.batches.models import Batch, BatchStatus
from netraven_tasks.db import session_factory
from netraven_tasks.maintenance.matching import suppressing_window
from netraven_tasks.maintenance.models import SkippedSlot
from netraven_tasks.maintenance.skipping import schedule_device
from netraven_tasks.maintenance.suppression import record_suppressed
from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.notifications.alerting import Alert, enqueue_alert
from netraven_tasks.notifications.planning import as_recipient
from netraven_tasks.notifications.rendering import Renderer
from netraven_tasks.notifications.tasks import DELIVER_TASK, renderer
from netraven_tasks.routes.events import missed_run_event
from netraven_tasks.routes.planning import any_route_enabled, plan_route_messages
from netraven_tasks.schedules.models import Schedule, WatchState
from netraven_tasks.schedules.service import timing_of
from netraven_tasks.schedules.timing import Timing
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import TERMINAL_STATUSES

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Verdict:
    state: WatchState
    slot: datetime | None  # the slot judged late or missed


def judge(
    timing: Timing,
    grace: timedelta,
    slots_from: datetime,
    now: datetime,
    started_since: Callable[[datetime], bool],
) -> Verdict:
    """The state of a schedule at ``now``: ``started_since(slot)`` says whether a run of that slot
    or a later one has started."""
    due = timing.previous_slot(now - grace)
    if due < slots_from or started_since(due):
        return Verdict(WatchState.OK, None)
    missed = now >= timing.next_slot(due)
    return Verdict(WatchState.MISSED if missed else WatchState.LATE, due)


def _started_since(session: Session, schedule_id: int) -> Callable[[datetime], bool]:
    def check(slot: datetime) -> bool:
        started = or_(JobLog.started_at.is_not(None), JobLog.status.in_([s.value for s in TERMINAL_STATUSES]))
        query = select(
            exists().where(JobLog.schedule_id == schedule_id, JobLog.scheduled_for >= slot, started)
        )
        # A batch schedule's slot is its batch: started once any child ran or ended.
        batch_started = (Batch.running + Batch.completed + Batch.failed + Batch.canceled > 0) | (
            Batch.status != BatchStatus.RUNNING.value
        )
        batches = select(
            exists().where(Batch.schedule_id == schedule_id, Batch.scheduled_for >= slot, batch_started)
        )
        # A slot a maintenance window skipped (wholly, or devices of its batch) is accounted for.
        skipped = select(
            exists().where(SkippedSlot.schedule_id == schedule_id, SkippedSlot.scheduled_for >= slot)
        )
        return any(bool(session.scalar(check)) for check in (query, batches, skipped))

    return check


def incident_alert(schedule: Schedule, event: str, slot: datetime, public_url: str) -> Alert:
    """The "missed" or "recovered" alert of the incident that began at ``slot``."""
    label = f"{schedule.job_type}, {schedule.description}" if schedule.description else schedule.job_type
    what = f"schedule {schedule.id} ({label})"
    if event == "missed":
        headline = f"{what} missed its run of {slot:%Y-%m-%d %H:%M:%S} UTC"
        lines = [
            f"No run of the slot {slot.isoformat()} started within {schedule.grace_seconds} s,"
            " and the next slot has passed too.",
            "Beat may be down, the queue backed up, or no worker consumes this job type.",
        ]
    else:
        headline = f"{what} runs again"
        lines = [f"A run started again after the incident that began with the slot {slot.isoformat()}."]
    return Alert(
        event=event,
        headline=headline,
        lines=lines,
        link=f"{public_url.rstrip('/')}/schedules/{schedule.id}",
        job_type=schedule.job_type,
        alert_key=f"schedule:{schedule.id}:{slot.isoformat()}:{event}",
    )


def judge_schedule(
    session: Session, schedule_id: int, now: datetime, renderer: Renderer, mail_from: str
) -> list[int]:
    """Judge one schedule under its row lock; returns the outbox ids of the alerts it raised."""
    schedule = session.scalar(
        select(Schedule)
        .where(Schedule.id == schedule_id, Schedule.enabled)
        .with_for_update(skip_locked=True, key_share=True)
    )
    if schedule is None:
        return []
    verdict = judge(
        timing_of(schedule),
        timedelta(seconds=schedule.grace_seconds),
        schedule.slots_from,
        now,
        _started_since(session, schedule.id),
    )
    previous, event, slot = WatchState(schedule.watch_state), None, schedule.incident_slot
    if verdict.state is WatchState.OK:
        if previous is WatchState.MISSED:
            event = "recovered"
        schedule.incident_slot = None
    else:
        slot = schedule.incident_slot = schedule.incident_slot or verdict.slot
        if verdict.state is WatchState.MISSED and previous is not WatchState.MISSED:
            event = "missed"
        if previous is WatchState.MISSED:
            verdict = Verdict(WatchState.MISSED, verdict.slot)  # a new late slot does not end it
    if verdict.state is not previous:
        log.info("schedule %s is %s (was %s)", schedule.id, verdict.state.value, previous.value)
        schedule.watch_state = verdict.state.value
    if event is None or slot is None:
        return []
    alert = incident_alert(schedule, event, slot, renderer.public_url)
    owner = session.get(User, schedule.owner_id)
    device = schedule_device(schedule)
    window = suppressing_window(session, device=device, schedule_id=schedule.id, at=now)
    ids: list[int] = []
    if owner is not None and window is not None:
        record_suppressed(
            session, window, event=event, schedule_id=schedule.id, device=device, user_id=owner.id
        )
    elif owner is not None:
        ids = enqueue_alert(session, as_recipient(owner), alert, renderer, mail_from, now)
    if any_route_enabled(session):  # routes: held back by the same window in plan_route_messages
        routed = missed_run_event(session, schedule, alert, renderer)
        ids += plan_route_messages(session, routed, mail_from, now)
    return ids


def check_schedules(
    sessions: sessionmaker[Session], renderer: Renderer, mail_from: str, now: datetime
) -> list[int]:
    """Judge every enabled schedule; returns the outbox ids of new alerts."""
    with sessions() as session:
        ids = list(session.scalars(select(Schedule.id).where(Schedule.enabled).order_by(Schedule.id)))
    outbox_ids: list[int] = []
    for schedule_id in ids:
        try:
            with sessions.begin() as session:
                outbox_ids += judge_schedule(session, schedule_id, now, renderer, mail_from)
        except Exception:
            log.exception("the missed-run check of schedule %s failed; trying again next time", schedule_id)
    return outbox_ids


def start_watch(settings: Settings, stop: threading.Event, app: Celery) -> threading.Thread:
    """Run the check every NETRAVEN_SCHEDULE_CHECK_SECONDS until ``stop``; new alerts are handed
    to a worker of ``app`` for delivery (the beat's outbox sweep would send them too)."""
    sessions = session_factory(settings)

    def loop() -> None:
        while not stop.wait(settings.schedule_check_seconds):
            try:
                if check_schedules(sessions, renderer(settings), settings.mail_from, utcnow()):
                    app.send_task(DELIVER_TASK)
            except Exception:
                log.exception("the missed-run check failed; trying again")

    thread = threading.Thread(target=loop, name="schedule-watch", daemon=True)
    thread.start()
    return thread
