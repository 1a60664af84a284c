"""Users: creating, finding, changing passwords and deactivating (used by the CLI, the API, the notifier)."""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.auth import hash_password
from netraven_tasks.models import User, utcnow
from netraven_tasks.preferences import DEFAULT_PREFERENCES

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
    """The user can no longer sign in, and every token issued before stops working."""
    user = _existing(session, username)
    user.active = False
    user.tokens_valid_after = utcnow()
    return user


def list_users(session: Session) -> Sequence[User]:
    return session.scalars(select(User).order_by(User.username)).all()
