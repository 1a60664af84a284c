"""Users: creating, finding, changing passwords and deactivating (used by the CLI, the API, the notifier)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.auth import hash_password
from netraven_tasks.jobs.launch_roles import OwnerDeactivated
from netraven_tasks.models import User, utcnow
from netraven_tasks.preferences import DEFAULT_PREFERENCES
from netraven_tasks.schedules.service import OWNER_DEACTIVATED, pause_owner_schedules

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,150}$")
EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+$")
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


class UserError(ValueError):
    pass


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise UserError(f"password must be at least {MIN_PASSWORD_LENGTH} characters long")
    if len(password) > MAX_PASSWORD_LENGTH:
        raise UserError(f"password must be at most {MAX_PASSWORD_LENGTH} characters long")
    return password


def create_user(
    session: Session,
    username: str,
    email: str,
    password: str | None = None,
    *,
    is_admin: bool = False,
) -> User:
    if not USERNAME.match(username):
        raise UserError("username must be 1-150 letters, digits or _ . @ -")
    if not EMAIL.match(email) or len(email) > 320:
        raise UserError(f"email {email!r} is not a valid address")
    if password is not None:
        check_password(password)
    if session.scalar(select(User.id).where(User.username == username)) is not None:
        raise UserError(f"user {username!r} exists already")
    user = User(
        username=username,
        email=email,
        password_hash=hash_password(password) if password else None,
        is_admin=is_admin,
        active=True,
        notification_preferences=dict(DEFAULT_PREFERENCES),
    )
    session.add(user)
    session.flush()
    return user


def find_user(session: Session, username: str) -> User | None:
    return session.scalar(select(User).where(User.username == username))


def _existing(session: Session, username: str) -> User:
    user = find_user(session, username)
    if user is None:
        raise UserError(f"no user named {username!r}")
    return user


def set_password(session: Session, username: str, password: str) -> User:
    """Change the password; every token issued before stops working."""
    user = _existing(session, username)
    user.password_hash = hash_password(check_password(password))
    user.tokens_valid_after = utcnow()
    return user


def deactivate_user(session: Session, username: str) -> User:
    """The user can no longer sign in, every token issued before stops working, and their
    schedules are paused (``paused_reason`` says why); nothing is launched as them any more."""
    user = _existing(session, username)
    # Schedules before the user row: a launcher holding one of them is let finish first (it
    # reads the user row FOR SHARE), so the two never wait on each other.
    pause_owner_schedules(session, user.id, OWNER_DEACTIVATED)
    user.active = False
    user.tokens_valid_after = utcnow()
    return user


def activate_user(session: Session, username: str) -> User:
    """The user may sign in again. Their paused schedules stay paused: they (or an admin) resume
    the ones still wanted, rather than every one of them launching again at once."""
    user = _existing(session, username)
    user.active = True
    return user


def ensure_active_owner(session: Session, owner_id: int) -> None:
    """OwnerDeactivated unless the user exists and is active. The row is read FOR SHARE, held to
    the end of the launch's transaction: a deactivation waits for this launch to commit, and
    every launch after the deactivation sees it."""
    active = session.scalar(select(User.active).where(User.id == owner_id).with_for_update(read=True))
    if not active:
        raise OwnerDeactivated(f"user {owner_id} is deactivated: nothing is launched as them")


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()
