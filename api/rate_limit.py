"""Sign-in rate limiting with flask-limiter: per username and per client address.

Only failed attempts (401) count, so a user who signs in often is never locked out, while a
password guesser gets NETRAVEN_LOGIN_RATE_LIMIT tries per username and
NETRAVEN_LOGIN_ADDRESS_RATE_LIMIT per address, then 429 with ``Retry-After``. Counters live in
Redis when the broker is Redis (shared by every API process) and in memory on the embedded default.
Any sign-in view (the API's token, the dashboard's form) uses it through ``limit_logins``.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, Response, request
from flask_limiter import Limiter

from netraven_tasks.settings import Settings

LIMITER_KEY = "netraven_limiter"
TOO_MANY = "too many failed sign-ins; wait for the Retry-After seconds, then try again"


def _username() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    name = body.get("username") if isinstance(body, dict) else request.form.get("username")
    return f"login-user:{str(name or '')[:150].lower()}"


def _address() -> str:
    return f"login-address:{request.remote_addr or 'unknown'}"


def _failed(response: Response) -> bool:
    return response.status_code == 401


def init_app(app: Flask, settings: Settings) -> Limiter:
    limiter = Limiter(
        key_func=_address,
        app=app,
        storage_uri=settings.broker_url if settings.broker_is_redis else "memory://",
        headers_enabled=True,
        key_prefix="netraven",
        # Redis unreachable: count in memory rather than refuse every sign-in.
        in_memory_fallback_enabled=True,
        swallow_errors=True,
    )
    app.extensions[LIMITER_KEY] = limiter
    return limiter


def limit_logins(app: Flask, endpoint: str, settings: Settings) -> None:
    """Put the sign-in limits on the view of ``endpoint`` (registered already)."""
    limiter: Limiter = app.extensions[LIMITER_KEY]
    view: Any = app.view_functions[endpoint]
    for rate, key in ((settings.login_rate_limit, _username), (settings.login_address_rate_limit, _address)):
        view = limiter.limit(rate, key_func=key, deduct_when=_failed, error_message=TOO_MANY)(view)
    app.view_functions[endpoint] = view
