"""Hourly and daily digests: one message per user per period gathering their pending items.

Pending items are rows (``notification_digest_items`` with no ``outbox_id``), so they survive
restarts. An item is sent in the next digest of the period it was queued for, whatever the user's
frequency is now: changing from hourly to immediate loses nothing. A digest's outbox row has the
unique key (user, period, period start), and its items are taken under a row lock in the same
transaction, so two digest runs at once still make one digest.
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import case, delete, select, update
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.models import JobLog, User
from netraven_tasks.notifications.batch_summary import batch_reports
from netraven_tasks.notifications.channels.email import CHANNEL as EMAIL
from netraven_tasks.notifications.models import DigestItem, DigestPeriod
from netraven_tasks.notifications.outbox import digest_message_row, enqueue_many, new_message_id
from netraven_tasks.notifications.rendering import (
    DIGEST_BATCH_FAILED_SHOWN,
    JOB_LOG_FIELDS,
    JobSummary,
    Renderer,
)
from netraven_tasks.preferences import effective_preferences

log = logging.getLogger(__name__)

USERS_PER_BATCH = 200  # one transaction, five statements, whatever the number of items


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


def make_digest_batch(
    session: Session,
    user_ids: Sequence[int],
    period: str,
    start: datetime,
    end: datetime,
    renderer: Renderer,
    mail_from: str,
) -> list[int]:
    """Make several users' digests for one period (call inside a transaction) in a fixed number of
    queries, however many users and items; returns the new outbox ids. Users whose digest of this
    period exists already keep their items for the next one."""
    items: Sequence[DigestItem] = session.scalars(
        select(DigestItem)
        .where(
            DigestItem.user_id.in_(list(user_ids)),
            DigestItem.period == period,
            DigestItem.outbox_id.is_(None),
            DigestItem.created_at < end,
        )
        .order_by(DigestItem.user_id, DigestItem.id)
        .with_for_update()  # a concurrent run waits here, then sees the items taken
    ).all()
    if not items:
        return []
    by_user: dict[int, list[DigestItem]] = defaultdict(list)
    for item in items:
        by_user[item.user_id].append(item)
    users = {user.id: user for user in session.scalars(select(User).where(User.id.in_(list(by_user))))}
    jobs = _job_summaries(session, list({item.job_log_id for item in items if item.job_log_id is not None}))
    batches = batch_reports(
        session, (item.batch_id for item in items if item.batch_id is not None), DIGEST_BATCH_FAILED_SHOWN
    )
    opted_out: list[int] = []
    rows: list[dict[str, Any]] = []
    for user_id, user_items in by_user.items():
        user = users.get(user_id)
        if user is None or not user.active:
            continue  # kept: a reactivated user still gets them
        if not EMAIL.takes_mail(effective_preferences(user.notification_preferences)):
            opted_out += [item.id for item in user_items]  # they opted out of email
            continue
        summaries = [jobs[item.job_log_id] for item in user_items if item.job_log_id in jobs]
        fleet = [batches[item.batch_id] for item in user_items if item.batch_id in batches]
        rendered = renderer.digest(user.username, period, start, end, summaries, fleet)
        rows.append(
            digest_message_row(
                user_id=user_id,
                period=period,
                period_start=start,
                address=user.email,
                subject=rendered.subject,
                body_text=rendered.text,
                body_html=rendered.html,
                message_id=new_message_id(mail_from),
            )
        )
    if opted_out:
        session.execute(delete(DigestItem).where(DigestItem.id.in_(opted_out)))
    made = enqueue_many(session, rows)
    if not made:
        return []
    item_ids = [item.id for user_id in made for item in by_user[user_id]]
    taken = session.execute(
        update(DigestItem)
        .where(DigestItem.id.in_(item_ids), DigestItem.outbox_id.is_(None))
        .values(outbox_id=case(made, value=DigestItem.user_id))
        .execution_options(synchronize_session=False)
    )
    if taken.rowcount != len(item_ids):  # type: ignore[attr-defined]
        raise DigestRace(f"digest items of users {sorted(made)} were taken by another run")
    return list(made.values())


def _job_summaries(session: Session, job_ids: list[int]) -> dict[int, JobSummary]:
    """The summaries of these jobs, read as plain columns (no ORM objects: 200,000 of them per
    10,000 digests cost more to build than the SQL does)."""
    columns = [getattr(JobLog, name) for name in JOB_LOG_FIELDS]
    rows = session.execute(select(JobLog.id, *columns).where(JobLog.id.in_(job_ids)))
    return {row[0]: JobSummary(*row) for row in rows}


def make_digests(
    sessions: sessionmaker[Session],
    period: DigestPeriod | str,
    now: datetime,
    renderer: Renderer,
    mail_from: str,
    digest_hour: int = 8,
    batch_size: int | None = None,
    on_batch: Callable[[list[int]], None] | None = None,
) -> list[int]:
    """Every user's digest for the period that ended at ``now``; returns the new outbox ids.

    Users are taken ``batch_size`` at a time, each batch one transaction; a batch that races with
    another run is redone one user at a time, so the other users' digests are not held up.
    ``on_batch`` gets each committed batch's outbox ids, so they can be sent while the next batch
    is made.
    """
    period = DigestPeriod(period).value
    start, end = period_bounds(period, now, digest_hour)
    batch_size = batch_size or USERS_PER_BATCH
    with sessions() as session:
        user_ids = users_with_pending_items(session, period, end)
    made: list[int] = []
    for first in range(0, len(user_ids), batch_size):
        batch = user_ids[first : first + batch_size]
        for group in ([batch], [[user_id] for user_id in batch]):
            try:
                for users in group:
                    with sessions.begin() as session:
                        ids = make_digest_batch(session, users, period, start, end, renderer, mail_from)
                    made += ids
                    if ids and on_batch is not None:
                        on_batch(ids)
                break
            except DigestRace:
                log.info("digests of %d users for %s %s raced with another run", len(batch), period, start)
    return made
