"""Passwords and bearer tokens: one place for hashing, issuing and checking."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import jwt
from werkzeug.security import check_password_hash, generate_password_hash

from netraven_tasks.models import User, utcnow
from netraven_tasks.settings import Settings

ALGORITHM = "HS256"
ISSUER = "netraven-tasks"
AUDIENCE = "netraven-tasks-api"


class InvalidToken(Exception):
    """The token is missing, malformed, expired, forged or for another audience."""


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    expires_at: int


def hash_password(password: str) -> str:
    return generate_password_hash(password, method="scrypt")


def verify_password(password_hash: str | None, password: str) -> bool:
    return password_hash is not None and check_password_hash(password_hash, password)


def issue_token(user: User, settings: Settings, ttl_seconds: int | None = None) -> str:
    now = utcnow()
    ttl = ttl_seconds if ttl_seconds is not None else settings.token_ttl_seconds
    claims: dict[str, Any] = {
        "sub": str(user.id),
        "name": user.username,
        "iat": int(now.timestamp()),
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
        return TokenClaims(user_id=int(claims["sub"]), expires_at=int(claims["exp"]))
    except (jwt.PyJWTError, ValueError) as error:
        raise InvalidToken(str(error)) from None
