"""When a maintenance window ends: a scope whose first failure the window held back and that is
still failing gets one ``failed`` alert (the device did not recover by itself), to the people and
the routes it was held from; a scope that recovered during the window gets nothing.

Each window is handled once: under its row lock (skip-locked, so two beats or a repeated task
pass it by), in the transaction that sets ``ended_handled_at`` and enqueues the alerts; each
alert's outbox key names the window and the scope as well.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.maintenance.models import MaintenanceWindow, SuppressedNotification
from netraven_tasks.models import JobLog, User
from netraven_tasks.notifications.alerting import Alert, enqueue_alert
from netraven_tasks.notifications.channels.webhook import webhook_payload
from netraven_tasks.notifications.planning import as_recipient
from netraven_tasks.notifications.rendering import JobSummary, Renderer, job_link
from netraven_tasks.routes.events import job_state_event
from netraven_tasks.routes.planning import plan_route_messages
from netraven_tasks.schedules.alerts import FAILED, scope_of
from netraven_tasks.schedules.models import AlertStreak

log = logging.getLogger(__name__)


def ended_window_ids(sessions: sessionmaker[Session], now: datetime) -> list[int]:
    """Windows that have ended and whose end is not handled yet, oldest end first."""
    with sessions() as session:
        query = (
            select(MaintenanceWindow.id)
            .where(MaintenanceWindow.ended_handled_at.is_(None), MaintenanceWindow.ends_at <= now)
            .order_by(MaintenanceWindow.ends_at, MaintenanceWindow.id)
        )
        return list(session.scalars(query))


def end_windows(
    sessions: sessionmaker[Session], renderer: Renderer, mail_from: str, now: datetime
) -> list[int]:
    """Handle the end of every window that has ended; returns the outbox ids of the alerts."""
    outbox_ids: list[int] = []
    for window_id in ended_window_ids(sessions, now):
        try:
            with sessions.begin() as session:
                outbox_ids += end_window(session, window_id, renderer, mail_from, now)
        except Exception:
            log.exception("the end of maintenance window %s could not be handled; trying again", window_id)
    return outbox_ids


def end_window(
    session: Session, window_id: int, renderer: Renderer, mail_from: str, now: datetime
) -> list[int]:
    """Handle one window's end (inside a transaction); [] if it is not due, handled, or being
    handled (or recorded into) by another transaction right now."""
    window = session.scalar(
        select(MaintenanceWindow)
        .where(
            MaintenanceWindow.id == window_id,
            MaintenanceWindow.ended_handled_at.is_(None),
            MaintenanceWindow.ends_at <= now,
        )
        .with_for_update(skip_locked=True)
    )
    if window is None:
        return []
    window.ended_handled_at = now
    outbox_ids: list[int] = []
    people = held_failures(session, window.id)
    routed = held_route_scopes(session, window.id)
    for scope in sorted(people.keys() | routed):
        streak = session.scalar(select(AlertStreak).where(AlertStreak.scope == scope))
        if streak is None or streak.status != FAILED or streak.last_job_log_id is None:
            continue  # recovered during the window (or never counted): nothing to tell
        latest = session.get(JobLog, streak.last_job_log_id)
        if latest is None:
            continue  # purged by retention
        alert = still_failing_alert(window, latest, streak, renderer.public_url)
        streak.last_alert_at = now  # "still failing" reminders count from this alert
        user_ids = people.get(scope, set())
        for user in session.scalars(select(User).where(User.id.in_(user_ids)).order_by(User.id)):
            outbox_ids += enqueue_alert(session, as_recipient(user), alert, renderer, mail_from, now)
        if scope in routed:  # the routes the window held the failure from (their incident opens now)
            event = job_state_event(session, latest, alert, renderer)
            outbox_ids += plan_route_messages(session, event, mail_from, now)
    log.info(
        "maintenance window %s ended: %d alert message(s) for scopes still failing",
        window.id,
        len(outbox_ids),
    )
    return outbox_ids


def held_failures(session: Session, window_id: int) -> dict[str, set[int]]:
    """The alert scopes whose ``failed`` alert the window held back, each with the users it was
    held back from."""
    rows = session.execute(
        select(JobLog, SuppressedNotification.user_id)
        .join(JobLog, JobLog.id == SuppressedNotification.job_log_id)
        .where(
            SuppressedNotification.window_id == window_id,
            SuppressedNotification.event == FAILED,
            SuppressedNotification.user_id.is_not(None),  # routes' records: held_route_scopes
        )
    )
    scopes: dict[str, set[int]] = defaultdict(set)
    for job, user_id in rows:
        if user_id is not None:
            scopes[scope_of(job)].add(user_id)
    return dict(scopes)


def held_route_scopes(session: Session, window_id: int) -> set[str]:
    """The alert scopes whose ``failed`` message the window held back from a route."""
    jobs = session.scalars(
        select(JobLog)
        .join(SuppressedNotification, SuppressedNotification.job_log_id == JobLog.id)
        .where(
            SuppressedNotification.window_id == window_id,
            SuppressedNotification.event == FAILED,
            SuppressedNotification.route_id.is_not(None),
        )
    )
    return {scope_of(job) for job in jobs}


def still_failing_alert(
    window: MaintenanceWindow, latest: JobLog, streak: AlertStreak, public_url: str
) -> Alert:
    """The one ``failed`` alert after the window: the latest run of the streak, and why it comes now."""
    target = latest.job_type + (f" on {latest.device}" if latest.device else "")
    headline = f"{target} still failing after maintenance window #{window.id}"
    since = f"{streak.failing_since:%Y-%m-%d %H:%M} UTC" if streak.failing_since else "the window"
    lines = [
        f"Maintenance window #{window.id} ({window.reason or 'no reason given'}) ended at "
        f"{window.ends_at:%Y-%m-%d %H:%M} UTC; its alerts were held back.",
        f"{streak.failures} failed run(s) since {since}; it did not recover by itself.",
        f"Latest error: {latest.error_type or 'Error'}: {latest.error_message or ''}",
    ]
    return Alert(
        event=FAILED,
        headline=headline,
        lines=lines,
        link=job_link(public_url, latest.id),
        job_type=latest.job_type,
        job_log_id=latest.id,
        alert_key=f"maintenance:{window.id}:{scope_of(latest)}"[:200],
        payload={
            **webhook_payload(JobSummary.of(latest), public_url),
            "event": f"job.{FAILED}",
            "headline": headline,
            "maintenance_window_id": window.id,
        },
    )
