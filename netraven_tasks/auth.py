"""Passwords and bearer tokens: one place for hashing, issuing and checking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from werkzeug.security import check_password_hash, generate_password_hash

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
        return TokenClaims(
            user_id=int(claims["sub"]), expires_at=int(claims["exp"]), issued_at=float(claims["iat"])
        )
    except (jwt.PyJWTError, ValueError, TypeError) as error:
        raise InvalidToken(str(error)) from None


def token_revoked(user: User, claims: TokenClaims) -> bool:
    """Was the token issued before the user's password changed or the user was deactivated?"""
    valid_after = user.tokens_valid_after
    return valid_after is not None and claims.issued_at < valid_after.timestamp()
