"""Sign-in limiting: failed attempts per username, under a higher ceiling per client address.

A password guesser gets NETRAVEN_LOGIN_RATE_LIMIT failed attempts per username and
NETRAVEN_LOGIN_ADDRESS_RATE_LIMIT per client address (an IPv6 client per /64), then 429 with
``Retry-After``. A locked username locks only that username: the others behind the same address (a
NAT, a proxy) still sign in until the address ceiling.

Each attempt takes its place in the counters before the password is checked and gives it back
unless it failed (401): concurrent guesses cannot all pass a check made before any of them was
counted, and a user who signs in often is never locked out. The counters live in Redis when the
broker is Redis, in a SQLite file under var/ otherwise (``api/limit_storage.py``), so every API
process shares them. Any sign-in view (the API's token, the dashboard's form) uses ``limit_logins``.
"""

from __future__ import annotations

import functools
import hashlib
import ipaddress
import logging
import math
import time
from dataclasses import dataclass, field
from typing import Any

from flask import Flask, request
from limits import RateLimitItem, parse_many
from limits.errors import StorageError
from limits.storage import MemoryStorage, storage_from_string
from limits.strategies import FixedWindowRateLimiter
from werkzeug.exceptions import HTTPException

from api.errors import fail
from api.limit_storage import storage_uri
from netraven_tasks.notifications.url_safety import parse_address
from netraven_tasks.settings import Settings

log = logging.getLogger(__name__)

LIMITS_KEY = "netraven_login_limits"
TOO_MANY = "too many failed sign-ins; wait for the Retry-After seconds, then try again"
COUNTERS_FILE = "rate-limits.db"
Identity = tuple[str, str]


class TooManySignIns(Exception):
    def __init__(self, retry_after: int):
        super().__init__(f"retry after {retry_after} s")
        self.retry_after = retry_after


@dataclass
class Reservation:
    """The counters one attempt took a place in; ``refund`` gives them back."""

    limiter: FixedWindowRateLimiter
    taken: list[tuple[RateLimitItem, Identity]] = field(default_factory=list)

    def refund(self) -> None:
        storage = self.limiter.storage
        try:
            for item, identity in self.taken:
                key = item.key_for(*identity)
                if storage.get(key) > 0:  # a window that ended meanwhile starts at zero, not below
                    storage.incr(key, item.get_expiry(), amount=-1)
        except StorageError:  # gone since the attempt was counted: it stays counted, the answer stands
            log.warning("sign-in counters unreachable; an attempt could not be given back")
        self.taken.clear()


class LoginLimits:
    """The sign-in counters of one app: shared storage, or this process's memory while it is down."""

    def __init__(self, settings: Settings):
        uri = settings.redis_url_in_use or storage_uri(settings.var_dir / COUNTERS_FILE)
        self.shared = FixedWindowRateLimiter(storage_from_string(uri, wrap_exceptions=True))
        self.local = FixedWindowRateLimiter(MemoryStorage())
        self.per_address = parse_many(settings.login_address_rate_limit)
        self.per_username = parse_many(settings.login_rate_limit)

    def reserve(self, username: str, address: str) -> Reservation:
        """Count one attempt of ``username`` from ``address``; raises TooManySignIns (counting
        nothing) when a limit is spent."""
        try:
            return self._reserve(self.shared, username, address)
        except StorageError:
            # Rather than refuse every sign-in while the storage is down, count in this process.
            log.warning("sign-in counters unreachable; counting in this process until they answer")
            return self._reserve(self.local, username, address)

    def _reserve(self, limiter: FixedWindowRateLimiter, username: str, address: str) -> Reservation:
        reservation = Reservation(limiter)
        # The address first: a refused username then gives its address place back, so hammering
        # a locked account does not use up the ceiling of everyone behind the same NAT.
        for items, identity in (
            (self.per_address, ("login-address", address_key(address))),
            (self.per_username, ("login-user", username_key(username))),
        ):
            for item in items:
                reservation.taken.append((item, identity))
                if not limiter.hit(item, *identity):
                    reset_at = limiter.get_window_stats(item, *identity).reset_time
                    reservation.refund()
                    raise TooManySignIns(max(1, math.ceil(reset_at - time.time())))
        return reservation


def username_key(username: str) -> str:
    # Hashed: any text may be typed as a username, a key should not carry it.
    return hashlib.sha256(username[:150].lower().encode("utf-8", "replace")).hexdigest()[:32]


def address_key(address: str) -> str:
    """The client address; for IPv6 its /64, which one client usually holds whole."""
    try:
        ip = parse_address(address)
    except ValueError:
        return address[:64] or "unknown"
    if isinstance(ip, ipaddress.IPv6Address):
        return str(ip.ipv4_mapped or ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def _username() -> str:
    body = request.get_json(silent=True) if request.is_json else None
    name = body.get("username") if isinstance(body, dict) else request.form.get("username")
    return str(name or "")


def init_app(app: Flask, settings: Settings) -> LoginLimits:
    limits = app.extensions[LIMITS_KEY] = LoginLimits(settings)
    return limits


def limit_logins(app: Flask, endpoint: str) -> None:
    """Put the sign-in limits on the view of ``endpoint`` (registered already)."""
    limits: LoginLimits = app.extensions[LIMITS_KEY]
    view: Any = app.view_functions[endpoint]

    @functools.wraps(view)
    def limited(*args: Any, **kwargs: Any) -> Any:
        try:
            reservation = limits.reserve(_username(), request.remote_addr or "")
        except TooManySignIns as refused:
            fail(429, TOO_MANY, headers={"Retry-After": str(refused.retry_after)})
        failed = True  # an unexpected error counts, like a wrong password
        try:
            response = app.make_response(view(*args, **kwargs))
            failed = response.status_code == 401
            return response
        except HTTPException as error:
            failed = error.code == 401
            raise
        finally:
            if not failed:
                reservation.refund()

    app.view_functions[endpoint] = limited
