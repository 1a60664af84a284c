"""The dashboard's session: an HttpOnly cookie carrying the bearer token, and CSRF tokens tied to it.

The cookie holds the same JWT ``POST /auth/token`` hands out, so every check the API makes on a
bearer token (signature, expiry, active user) applies to the dashboard too. A request that changes
something with the cookie must also send the CSRF token derived from it (a form field or the
``X-CSRF-Token`` header): another site can make the browser send the cookie, never read the token.
"""

from __future__ import annotations

import hmac
import re
import secrets
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar, cast
from urllib.parse import urlencode

from flask import g, redirect, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from api.context import current_settings, db_session
from api.errors import fail
from api.security import Caller, current_caller
from api.session_cookie import (  # noqa: F401 - the cookie and CSRF names, re-exported for the pages
    CSRF_FIELD,
    CSRF_HEADER,
    SAFE_METHODS,
    SESSION_COOKIE,
    csrf_for,
    session_token,
)
from netraven_tasks.auth import InvalidToken, decode_token, revoke_token

SIGN_IN_COOKIE = "netraven_sign_in"  # a random value that guards the sign-in form itself
HOME = "/ui/active"
# A page of ours: /ui or /ui/…, with a query at most; no scheme, no host, no backslash, no control.
_LOCAL_PAGE = re.compile(r"^/ui(?:/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?(?:\?[^\s\\#]*)?$")

F = TypeVar("F", bound=Callable[..., Any])


def current_csrf() -> str:
    token = request.cookies.get(SESSION_COOKIE)
    return csrf_for(token) if token else ""


def local_page(target: str | None) -> str:
    """``target`` if it is a dashboard page of this server, else the home page (no open redirect)."""
    if target and len(target) <= 2000 and _LOCAL_PAGE.match(target) and "//" not in target:
        return target
    return HOME


def sign_in_url(next_page: str) -> str:
    return "/ui/sign-in?" + urlencode({"next": local_page(next_page)})


def page_caller() -> Caller | None:
    """The signed-in user of this page request, or None (no cookie, expired or revoked token)."""
    try:
        return current_caller()
    except HTTPException:
        return None


def signed_in(view: F) -> F:
    """Pages need a session: without one, go to sign-in and come back to this page after."""

    @wraps(view)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        if page_caller() is None:
            target = request.full_path.rstrip("?") if request.query_string else request.path
            response = redirect(sign_in_url(target), code=303)
            if request.cookies.get(SESSION_COOKIE):
                response.delete_cookie(SESSION_COOKIE, path="/")  # expired: start afresh
            return response
        return view(*args, **kwargs)

    return cast(F, guarded)


def caller() -> Caller:
    """The caller of a page wrapped in ``signed_in``."""
    found: Caller = g.netraven_caller
    return found


def secure_cookies() -> bool:
    return request.is_secure or current_settings().public_url.startswith("https://")


def start_session(response: Response, token: str, max_age: int) -> None:
    response.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=max_age,
        path="/",
        httponly=True,
        secure=secure_cookies(),
        samesite="Lax",  # Lax, not Strict: a link in an email must open the page signed in
    )
    response.delete_cookie(SIGN_IN_COOKIE, path="/ui")


def end_session(response: Response) -> None:
    response.delete_cookie(SESSION_COOKIE, path="/")


def revoke_session(token: str) -> None:
    """Refuse the session's token server-side from now on: a copy of the cookie stops working too
    (every request checks it), and a stream opened with it ends at its next re-check."""
    try:
        claims = decode_token(token, current_settings())
    except InvalidToken:
        return  # expired or forged: nothing to revoke
    session = db_session()
    revoke_token(session, claims)
    session.commit()


def sign_in_guard() -> str:
    """The sign-in form's CSRF value: the one in its cookie, or a new one (``keep_sign_in_guard``)."""
    return request.cookies.get(SIGN_IN_COOKIE) or secrets.token_urlsafe(24)


def keep_sign_in_guard(response: Response, value: str) -> None:
    response.set_cookie(
        SIGN_IN_COOKIE,
        value,
        max_age=3600,
        path="/ui",
        httponly=True,
        secure=secure_cookies(),
        samesite="Strict",
    )


def check_sign_in_guard() -> None:
    expected = request.cookies.get(SIGN_IN_COOKIE, "")
    sent = request.form.get(CSRF_FIELD, "")
    if not expected or not hmac.compare_digest(sent.encode(), expected.encode()):
        fail(403, "the sign-in form expired: reload the sign-in page and try again")
