"""The dashboard's session cookie as the API's authentication reads it (``api/ui/session.py``).

Here, below both ``api.security`` and the dashboard, so that neither imports the other back.
"""

from __future__ import annotations

import hashlib
import hmac

from flask import request

from api.context import current_settings
from api.errors import fail

SESSION_COOKIE = "netraven_session"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_for(token: str) -> str:
    """The CSRF token of a session: a keyed hash of its bearer token (nothing stored server-side)."""
    key = current_settings().secret_key.encode()
    return hmac.new(key, b"csrf:" + token.encode(), hashlib.sha256).hexdigest()[:40]


def session_token() -> str | None:
    """The bearer token in the session cookie; on a state-changing request only with its CSRF token."""
    token = request.cookies.get(SESSION_COOKIE)
    if not token:
        return None
    if request.method not in SAFE_METHODS:
        sent = request.headers.get(CSRF_HEADER) or request.form.get(CSRF_FIELD) or ""
        if not hmac.compare_digest(sent.encode(), csrf_for(token).encode()):
            fail(
                403, f"CSRF token missing or wrong: send the page's token in {CSRF_HEADER} (reload the page)"
            )
    return token
