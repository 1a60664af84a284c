"""Passwords and bearer tokens: one place for hashing, issuing and checking."""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from sqlalchemy import delete
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from netraven_tasks.access.models import PersonalAccessToken, RevokedToken
from netraven_tasks.access.tokens import find_access_token, refusal
from netraven_tasks.db import insert
from netraven_tasks.models import User, utcnow
from netraven_tasks.settings import TOKEN_TTL_RANGE, Settings

ALGORITHM = "HS256"
ISSUER = "netraven-tasks"
AUDIENCE = "netraven-tasks-api"


class InvalidToken(Exception):
    """The token is missing, malformed, expired, forged or for another audience."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    expires_at: int
    issued_at: float = 0.0
    token_id: str | None = None  # ``jti``: what sign-out revokes (tokens issued before 0011 have none)
    access_token_id: int | None = None  # a personal access token's row (``access/tokens.py``)


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    return password_hash is not None and check_password_hash(password_hash, password)


def issue_token(user: User, settings: Settings, ttl_seconds: int | None = None) -> str:
    """A bearer JWT for ``user``; ``ttl_seconds`` must lie in TOKEN_TTL_RANGE (ValueError otherwise)."""
    now = utcnow()
    ttl = ttl_seconds if ttl_seconds is not None else settings.token_ttl_seconds
    low, high = TOKEN_TTL_RANGE
    if not low <= ttl <= high:
        raise ValueError(f"a token's lifetime must be between {low} and {high} seconds, got {ttl}")
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "name": user.username,
        # Fractional: a token issued just after a password change must not look issued before it.
        "iat": round(now.timestamp(), 6),
        "exp": int((now + timedelta(seconds=ttl)).timestamp()),
        "iss": ISSUER,
        "aud": AUDIENCE,
        "jti": secrets.token_urlsafe(16),
    }
    return jwt.encode(claims, settings.secret_key, algorithm=ALGORITHM)


def decode_token(token: str, settings: Settings) -> TokenClaims:
    try:
        claims = jwt.decode(
            token,
            settings.secret_key,
            algorithms=[ALGORITHM],  # pinned: 'none' and key-confusion tokens are refused
            audience=AUDIENCE,
            issuer=ISSUER,
            options={"require": ["sub", "exp", "iat", "iss", "aud"]},
        )
        token_id = claims.get("jti")
        return TokenClaims(
            user_id=int(claims["sub"]),
            expires_at=int(claims["exp"]),
            issued_at=float(claims["iat"]),
            token_id=token_id if isinstance(token_id, str) and 0 < len(token_id) <= 64 else None,
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidToken(str(error)) from None


def access_token_claims(session: Session, secret: str) -> TokenClaims:
    """The claims of a personal access token (checked again with its user by ``token_user``)."""
    token = find_access_token(session, secret)
    if token is None:
        raise InvalidToken("unknown access token")
    return TokenClaims(
        user_id=token.user_id,
        expires_at=int(token.expires_at.timestamp()),
        issued_at=token.created_at.timestamp(),
        access_token_id=token.id,
    )


def token_revoked(user: User, claims: TokenClaims) -> bool:
    """Was the token issued before the user's password changed or the user was deactivated?"""
    valid_after = user.tokens_valid_after
    return valid_after is not None and claims.issued_at < valid_after.timestamp()


def token_user(session: Session, claims: TokenClaims) -> User:
    """The user a valid token acts for, checked now: InvalidToken (saying why) when the user is
    unknown or deactivated, changed their password after it was issued, or signed it out; a
    personal access token also when it was revoked or expired.

    Every request checks this, and every long-lived connection again every few seconds."""
    user = session.get(User, claims.user_id) if 0 < claims.user_id < 2**31 else None
    if user is None or not user.active:
        raise InvalidToken("the token's user is unknown or deactivated")
    if token_revoked(user, claims):
        raise InvalidToken("the token was revoked (password changed); sign in again")
    if claims.token_id is not None and session.get(RevokedToken, claims.token_id) is not None:
        raise InvalidToken("the session was signed out; sign in again")
    if claims.access_token_id is not None:
        token = session.get(PersonalAccessToken, claims.access_token_id, populate_existing=True)
        why = "the access token was revoked" if token is None else refusal(token)
        if why is not None:
            raise InvalidToken(why)
    return user


def revoke_token(session: Session, claims: TokenClaims) -> None:
    """Refuse this token from now until it expires (sign-out); forget revocations that expired."""
    now = utcnow()
    session.execute(delete(RevokedToken).where(RevokedToken.expires_at < now))
    if claims.token_id is None:
        return  # issued before sign-out could revoke one token; it expires on its own
    expires_at = datetime.fromtimestamp(claims.expires_at, UTC)
    session.execute(
        insert(session, RevokedToken)
        .values(jti=claims.token_id, expires_at=expires_at)
        .on_conflict_do_nothing(index_elements=["jti"])
    )
