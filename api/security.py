"""Bearer authentication and authorisation: who is calling, and what they may see.

Every blueprint but the public ones calls ``protect(blp)``: each request must carry
``Authorization: Bearer <token>`` of an active user: a JWT from ``POST /auth/token`` or a personal
access token (``nrt_…``, ``netraven_tasks/access/tokens.py``); ``netraven_tasks.auth`` checks it.
"""

from __future__ import annotations

import http
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn, TypeVar

from flask import g, request
from flask_smorest import Blueprint

from api.context import current_settings, db_session
from api.errors import fail
from api.session_cookie import session_token
from netraven_tasks.access.policy import Action, Resource, Viewer, may, viewer_of
from netraven_tasks.access.tokens import looks_like_access_token, note_use
from netraven_tasks.audit.recording import paused
from netraven_tasks.auth import InvalidToken, TokenClaims, access_token_claims, decode_token, token_user
from netraven_tasks.db import session_factory
from netraven_tasks.models import User

F = TypeVar("F", bound=Callable[..., Any])

BEARER_SCHEME = {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}
SECURITY_SCHEME_NAME = "bearerAuth"
WWW_AUTHENTICATE = {"WWW-Authenticate": 'Bearer realm="netraven-tasks"'}


@dataclass(frozen=True)
class Caller:
    """The authenticated user of this request."""

    id: int
    username: str
    is_admin: bool

    @classmethod
    def of(cls, user: User) -> Caller:
        return cls(id=user.id, username=user.username, is_admin=bool(user.is_admin))


def _unauthorized(message: str) -> NoReturn:
    fail(401, message, headers=WWW_AUTHENTICATE)


def authenticate() -> Caller:
    """The caller named by the bearer token; aborts with 401 (JSON) if there is none or it is invalid."""
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        token = session_token() or ""  # the dashboard's cookie (CSRF-checked)
    if not token.strip():
        _unauthorized("send Authorization: Bearer <token> (POST /auth/token gives one)")
    token = token.strip()
    try:
        if looks_like_access_token(token):
            claims = access_token_claims(db_session(), token)
        else:
            claims = decode_token(token, current_settings())
    except InvalidToken as error:
        _unauthorized(f"invalid bearer token: {error}")
    try:
        user = token_user(db_session(), claims)
    except InvalidToken as error:
        _unauthorized(str(error))
    if claims.access_token_id is not None:
        with paused():  # bookkeeping, not the change the request makes
            note_use(session_factory(current_settings()), claims.access_token_id)
    g.netraven_token_claims = claims
    return Caller.of(user)


def current_caller() -> Caller:
    caller: Caller | None = g.get("netraven_caller")
    if caller is None:
        caller = g.netraven_caller = authenticate()
    return caller


def current_claims() -> TokenClaims:
    """The claims of the token this request was authenticated with (after ``current_caller``)."""
    current_caller()
    claims: TokenClaims = g.netraven_token_claims
    return claims


def protect(blp: Blueprint) -> Blueprint:
    """Require a valid bearer token on every request the blueprint serves."""

    def require_caller() -> None:
        current_caller()

    blp.before_request(require_caller)
    return blp


def current_viewer() -> Viewer:
    """The caller with the teams they are in (read once per request): what ``netraven_tasks.
    access.policy`` decides with."""
    viewer: Viewer | None = g.get("netraven_viewer")
    if viewer is None:
        caller = current_caller()
        viewer = g.netraven_viewer = viewer_of(db_session(), caller.id, caller.is_admin)
    return viewer


def visible_owner(caller: Caller, requested_owner: int | None) -> int | None:
    """The owner whose statistics a query may read (rollups are kept per owner, not per team): a
    user only their own; an admin anyone's (None = all)."""
    if caller.is_admin:
        return requested_owner
    if requested_owner is not None and requested_owner != caller.id:
        fail(403, "only admins may look at other users' statistics")
    return caller.id


MAX_USER_ID = 2**31 - 1


def target_user(user_id: str, what: str) -> User:
    """The user named in a ``/users/{user_id}/…`` path (``me``: the caller) whose ``what`` the
    caller may see: their own, or anyone's for an admin. Aborts with 403/404 otherwise."""
    caller = current_caller()
    if user_id == "me":
        wanted = caller.id
    elif user_id.isascii() and user_id.isdigit() and 0 < int(user_id) <= MAX_USER_ID:  # not '²' or '٣'
        wanted = int(user_id)
    else:
        fail(404, "user_id must be a user id or 'me'")
    if wanted != caller.id and not caller.is_admin:
        fail(403, f"you may only access your own {what}")
    user = db_session().get(User, wanted)
    if user is None:
        fail(404, f"no user {wanted}")
    return user


def may_act_on(
    resource: Resource, owner_id: int | None, team_id: int | None, action: Action = Action.VIEW
) -> bool:
    """Whether the caller may ``action`` the object of ``owner_id`` carrying ``team_id`` (the policy)."""
    return may(current_viewer(), resource, action, owner_id, team_id)


def errors(blp: Blueprint, *codes: int) -> Callable[[F], F]:
    """Document the error responses a view may give (their body is the error object)."""

    def decorate(func: F) -> F:
        for code in codes:
            func = blp.alt_response(code, response=http.HTTPStatus(code).name)(func)
        return func

    return decorate
