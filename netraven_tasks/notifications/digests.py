"""Hourly and daily digests: one message per user per period gathering their pending items.

Pending items are rows (``notification_digest_items`` with no ``outbox_id``), so they survive
restarts. An item is sent in the next digest of the period it was queued for, whatever the user's
frequency is now: changing from hourly to immediate loses nothing. A digest's outbox row has the
unique key (user, period, period start), and its items are taken under a row lock in the same
transaction, so two digest runs at once still make one digest.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.models import JobLog, User
from netraven_tasks.notifications.models import DigestItem, DigestPeriod
from netraven_tasks.notifications.outbox import enqueue_digest_message, new_message_id
from netraven_tasks.notifications.rendering import JobSummary, Renderer
from netraven_tasks.preferences import effective_preferences

log = logging.getLogger(__name__)


class DigestRace(RuntimeError):
    """Another run took some of these items between our read and our write; nothing is written."""


def period_bounds(
    period: DigestPeriod | str, now: datetime, digest_hour: int = 8
) -> tuple[datetime, datetime]:
    """The period that ended last at ``now``: the previous whole hour, or the day up to the
    most recent ``digest_hour``:00 UTC."""
    period = DigestPeriod(period)
    if period is DigestPeriod.HOURLY:
        end = now.replace(minute=0, second=0, microsecond=0)
        return end - timedelta(hours=1), end
    end = now.replace(hour=digest_hour, minute=0, second=0, microsecond=0)
    if end > now:
        end -= timedelta(days=1)
    return end - timedelta(days=1), end


def users_with_pending_items(session: Session, period: str, end: datetime) -> list[int]:
    query = (
        select(DigestItem.user_id)
        .where(DigestItem.period == period, DigestItem.outbox_id.is_(None), DigestItem.created_at < end)
        .distinct()
        .order_by(DigestItem.user_id)
    )
    return list(session.scalars(query))


def make_digest(
    session: Session,
    user_id: int,
    period: str,
    start: datetime,
    end: datetime,
    renderer: Renderer,
    mail_from: str,
) -> int | None:
    """Make one user's digest for one period (call inside a transaction); returns its outbox id,
    or None if there was nothing to send or this period's digest exists already."""
    items: Sequence[DigestItem] = session.scalars(
        select(DigestItem)
        .where(
            DigestItem.user_id == user_id,
            DigestItem.period == period,
            DigestItem.outbox_id.is_(None),
            DigestItem.created_at < end,
        )
        .order_by(DigestItem.id)
        .with_for_update()  # a concurrent run waits here, then sees the items taken
    ).all()
    if not items:
        return None
    user = session.get(User, user_id)
    if user is None or not user.active:
        return None  # kept: a reactivated user still gets them
    item_ids = [item.id for item in items]
    if not effective_preferences(user.notification_preferences).get("email_notifications", True):
        session.execute(delete(DigestItem).where(DigestItem.id.in_(item_ids)))  # they opted out of email
        return None
    jobs = session.scalars(select(JobLog).where(JobLog.id.in_([item.job_log_id for item in items]))).all()
    rendered = renderer.digest(user.username, period, start, end, [JobSummary.of(job) for job in jobs])
    outbox_id = enqueue_digest_message(
        session,
        user_id=user_id,
        period=period,
        period_start=start,
        address=user.email,
        subject=rendered.subject,
        body_text=rendered.text,
        body_html=rendered.html,
        message_id=new_message_id(mail_from),
    )
    if outbox_id is None:
        return None  # this period's digest was made by another run; the items wait for the next
    taken = session.execute(
        update(DigestItem)
        .where(DigestItem.id.in_(item_ids), DigestItem.outbox_id.is_(None))
        .values(outbox_id=outbox_id)
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != len(item_ids):  # type: ignore[attr-defined]
        raise DigestRace(f"digest items of user {user_id} were taken by another run")
    return outbox_id


def make_digests(
    sessions: sessionmaker[Session],
    period: DigestPeriod | str,
    now: datetime,
    renderer: Renderer,
    mail_from: str,
    digest_hour: int = 8,
) -> list[int]:
    """Every user's digest for the period that ended at ``now``; returns the new outbox ids."""
    period = DigestPeriod(period).value
    start, end = period_bounds(period, now, digest_hour)
    with sessions() as session:
        user_ids = users_with_pending_items(session, period, end)
    made: list[int] = []
    for user_id in user_ids:
        try:
            with sessions.begin() as session:
                outbox_id = make_digest(session, user_id, period, start, end, renderer, mail_from)
        except DigestRace:
            log.info("digest of user %s for %s %s made elsewhere", user_id, period, start)
            continue
        if outbox_id is not None:
            made.append(outbox_id)
    return made
