"""Dashboard pages of the signed-in person: sign in and out, notification preferences and history,
personal access tokens."""

from __future__ import annotations

from typing import Any

from flask import make_response, redirect, render_template, request
from sqlalchemy import select

from api.context import current_settings, db_session
from api.errors import fail
from api.pagination import page_window
from api.ui.blueprint import blp
from api.ui.preference_form import ZONES, preference_sections
from api.ui.session import (
    CSRF_FIELD,
    caller,
    check_sign_in_guard,
    end_session,
    keep_sign_in_guard,
    local_page,
    page_caller,
    revoke_session,
    session_token,
    sign_in_guard,
    signed_in,
    start_session,
)
from netraven_tasks.access.models import PersonalAccessToken
from netraven_tasks.access.tokens import token_state
from netraven_tasks.auth import InvalidToken, decode_token
from netraven_tasks.models import User, utcnow
from netraven_tasks.notifications.history import notification_history
from netraven_tasks.preferences import effective_preferences

HISTORY_PAGE_SIZE = 25


@blp.route("/sign-in")
def sign_in() -> Any:
    next_page = local_page(request.args.get("next"))
    if page_caller() is not None:
        return redirect(next_page, code=303)
    guard = sign_in_guard()
    response = make_response(
        render_template(
            "ui/sign_in.html", title="Sign in", next_page=next_page, guard=guard, guard_field=CSRF_FIELD
        )
    )
    keep_sign_in_guard(response, guard)
    return response


@blp.route("/session", methods=["POST"])
def open_session() -> Any:
    """The sign-in form's second step: it got a token from POST /auth/token (rate limited there)."""
    check_sign_in_guard()
    token = request.form.get("token", "")
    try:
        claims = decode_token(token, current_settings()) if 0 < len(token) <= 4096 else None
    except InvalidToken:
        claims = None
    if claims is None:
        fail(400, "token: not a valid session token; sign in again")
    response = redirect(local_page(request.form.get("next")), code=303)
    start_session(response, token, max(1, claims.expires_at - int(utcnow().timestamp())))
    return response


@blp.route("/sign-out", methods=["POST"])
def sign_out() -> Any:
    token = session_token()  # checks the CSRF token: another site cannot sign a person out
    if token:
        revoke_session(token)
    response = redirect("/ui/sign-in", code=303)
    end_session(response)
    return response


@blp.route("/preferences")
@signed_in
def preferences() -> str:
    user = db_session().get(User, caller().id)
    values = effective_preferences(user.notification_preferences if user else None)
    return render_template(
        "ui/preferences.html",
        title="Notification preferences",
        sections=preference_sections(values),
        zones=ZONES,
    )


@blp.route("/notifications")
@signed_in
def notifications() -> Any:
    page = request.args.get("page", "1")
    if not page.isdigit() or not 1 <= int(page) <= 100_000:
        return render_template(
            "ui/notifications.html",
            title="Notifications",
            error="page: must be a whole number from 1",
            rows=[],
            pages=None,
        ), 400
    number = int(page)
    limit, offset = page_window(number, HISTORY_PAGE_SIZE) or (0, 0)
    rows, total = notification_history(db_session(), caller().id, limit=limit, offset=offset)
    last = max(1, -(-total // HISTORY_PAGE_SIZE))
    pages = {
        "number": number,
        "last": last,
        "total": total,
        "previous": f"/ui/notifications?page={number - 1}" if number > 1 else None,
        "next": f"/ui/notifications?page={number + 1}" if number < last else None,
    }
    return render_template("ui/notifications.html", title="Notifications", rows=rows, pages=pages)


@blp.route("/tokens")
@signed_in
def tokens() -> str:
    query = select(PersonalAccessToken).where(PersonalAccessToken.user_id == caller().id)
    rows = list(db_session().scalars(query.order_by(PersonalAccessToken.id.desc())))
    return render_template("ui/tokens.html", title="Access tokens", tokens=rows, state=token_state)
