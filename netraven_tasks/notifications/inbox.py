"""Queries over the in-app inbox: a page of a user's items with the unread count, marking read."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from netraven_tasks.models import utcnow
from netraven_tasks.schedules.models import InboxItem


def inbox_page(
    session: Session, user_id: int, *, limit: int, offset: int, unread_only: bool
) -> tuple[list[InboxItem], int, int]:
    """(items newest first, how many match, how many are unread) for one user."""
    mine = InboxItem.user_id == user_id
    where = mine & InboxItem.read_at.is_(None) if unread_only else mine
    items = session.scalars(
        select(InboxItem).where(where).order_by(InboxItem.id.desc()).limit(limit).offset(offset)
    )
    total = session.scalar(select(func.count()).select_from(InboxItem).where(where)) or 0
    unread = session.scalar(
        select(func.count()).select_from(InboxItem).where(mine, InboxItem.read_at.is_(None))
    )
    return list(items), total, unread or 0


def mark_read(session: Session, user_id: int, item_id: int) -> InboxItem | None:
    """Mark one of the user's items read (once: the first time is kept); None if it is not theirs."""
    session.execute(
        update(InboxItem)
        .where(InboxItem.id == item_id, InboxItem.user_id == user_id, InboxItem.read_at.is_(None))
        .values(read_at=utcnow())
        .execution_options(synchronize_session=False)
    )
    return session.scalar(select(InboxItem).where(InboxItem.id == item_id, InboxItem.user_id == user_id))
