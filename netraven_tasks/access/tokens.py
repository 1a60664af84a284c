"""Personal access tokens: named, expiring bearer tokens for scripts, revocable one by one.

A token is ``nrt_`` and 43 URL-safe characters (256 random bits); the database keeps only their
SHA-256, so a copy of the database authenticates nobody. A token is refused once it is revoked or
expired, when its user is deactivated, and when its user's password changed after it was made
(the password change ends every credential, as it ends the user's JWTs). It is checked against
its row on every request and every few seconds on an open stream (``auth.token_user``).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session, sessionmaker

from netraven_tasks.access.models import PersonalAccessToken
from netraven_tasks.models import User, utcnow

PREFIX = "nrt_"
SECRET_BYTES = 32
MAX_DAYS = 366
MAX_ACTIVE_PER_USER = 50
# last_used_at is written at most this often per token: a busy script costs no write per request.
LAST_USED_RESOLUTION = timedelta(minutes=1)


class AccessTokenError(ValueError):
    """A token cannot be made: ``field`` names the request field at fault."""

    def __init__(self, field: str, message: str):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class NewToken:
    row: PersonalAccessToken
    secret: str  # shown once, never stored


def looks_like_access_token(token: str) -> bool:
    return token.startswith(PREFIX)


def secret_digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


def active_tokens(session: Session, user_id: int, now: datetime | None = None) -> int:
    query = select(func.count()).where(
        PersonalAccessToken.user_id == user_id,
        PersonalAccessToken.revoked_at.is_(None),
        PersonalAccessToken.expires_at > (now or utcnow()),
    )
    return int(session.scalar(query) or 0)


def create_access_token(session: Session, user: User, name: str, expires_in_days: int) -> NewToken:
    """A new token of ``user`` (added to ``session``, not committed)."""
    if not 1 <= expires_in_days <= MAX_DAYS:
        raise AccessTokenError("expires_in_days", f"must be between 1 and {MAX_DAYS}")
    now = utcnow()
    if active_tokens(session, user.id, now) >= MAX_ACTIVE_PER_USER:
        raise AccessTokenError("name", f"a user may hold at most {MAX_ACTIVE_PER_USER} active tokens")
    secret = PREFIX + secrets.token_urlsafe(SECRET_BYTES)
    row = PersonalAccessToken(
        user_id=user.id,
        name=name,
        secret_sha256=secret_digest(secret),
        shown_prefix=secret[: len(PREFIX) + 4],
        created_at=now,
        expires_at=now + timedelta(days=expires_in_days),
    )
    session.add(row)
    session.flush()
    return NewToken(row, secret)


def find_access_token(session: Session, secret: str) -> PersonalAccessToken | None:
    if not looks_like_access_token(secret) or len(secret) > 200:
        return None
    return session.scalar(
        select(PersonalAccessToken).where(PersonalAccessToken.secret_sha256 == secret_digest(secret))
    )


def refusal(token: PersonalAccessToken, now: datetime | None = None) -> str | None:
    """Why ``token`` is refused now (None: it is valid); its user is checked by the caller."""
    if token.revoked_at is not None:
        return "the access token was revoked"
    if token.expires_at <= (now or utcnow()):
        return "the access token expired"
    return None


def revoke_access_token(session: Session, token: PersonalAccessToken) -> None:
    if token.revoked_at is None:
        token.revoked_at = utcnow()


def note_use(sessions: sessionmaker[Session], token_id: int, now: datetime | None = None) -> None:
    """Remember the token was used now, unless that was already written in the last minute."""
    now = now or utcnow()
    stale = now - LAST_USED_RESOLUTION
    with sessions.begin() as session:
        session.execute(
            update(PersonalAccessToken)
            .where(
                PersonalAccessToken.id == token_id,
                (PersonalAccessToken.last_used_at.is_(None)) | (PersonalAccessToken.last_used_at < stale),
            )
            .values(last_used_at=now)
        )


def token_state(token: Any, now: datetime | None = None) -> str:
    """``active``, ``expired`` or ``revoked``, of a token's row (or anything with its attributes)."""
    if token.revoked_at is not None:
        return "revoked"
    return "expired" if token.expires_at <= (now or utcnow()) else "active"
