"""Users: creating them and finding them (used by the CLI, the API and the notifier)."""

from __future__ import annotations

import re

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.auth import hash_password
from netraven_tasks.models import User
from netraven_tasks.preferences import DEFAULT_PREFERENCES

USERNAME = re.compile(r"^[A-Za-z0-9_.@-]{1,150}$")
EMAIL = re.compile(r"^[^@\s<>,;\"']+@[^@\s<>,;\"']+$")


class UserError(ValueError):
    pass


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
