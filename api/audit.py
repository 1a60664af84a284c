"""The audit log over HTTP: every state-changing request opens an audit draft, and ``GET /audit``
lists what was recorded (admins only).

A request with POST, PUT, PATCH or DELETE opens a draft (``netraven_tasks/audit/recording.py``)
before anything else runs: its action is the method and the route (``PATCH
/schedules/{schedule_id}``), its actor the caller once authenticated, its address the client's.
The row is written by the first commit that changes something, in that commit; a request that
changes nothing (refused, invalid, rolled back) leaves no row. Sign-ins are recorded by
``auth_routes`` (success and failure), so they open no draft here.
"""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask, g, request
from flask.views import MethodView
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.context import current_settings, db_session
from api.errors import fail
from api.json_body import Blueprint
from api.security import current_caller, errors, protect
from netraven_tasks.audit.models import AuditEvent
from netraven_tasks.audit.recording import AuditDraft, close_draft, install, open_draft, record_event
from netraven_tasks.db import session_factory
from netraven_tasks.input_schema import InputSchema

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})
# Recorded by their views, success and failure alike (auth_routes.record_sign_in).
SIGN_IN_ENDPOINTS = frozenset({"auth.Token", "ui.open_session"})
MAX_BODY = 64 * 1024  # bytes of a request body kept (masked) when no object shows the change
_PARAMETER = re.compile(r"<(?:[^:<>]+:)?([^<>]+)>")

blp = protect(Blueprint("audit", __name__, url_prefix="/audit", description="Audit log (admins)"))


def route_of(rule: str) -> str:
    """``/schedules/<int:schedule_id>`` as the OpenAPI document writes it: ``/schedules/{schedule_id}``."""
    return _PARAMETER.sub(r"{\1}", rule)


def _caller_now() -> tuple[int | None, str]:
    caller = g.get("netraven_caller")
    return (caller.id, caller.username) if caller is not None else (None, "-")


def _request_body() -> Any:
    """The body as data, or None: too large, or not JSON the API would accept (too deep, a huge
    integer). This hook runs before the request limits answer 400 to such a body."""
    if request.content_length is not None and request.content_length > MAX_BODY:
        return None
    try:
        return request.get_json(silent=True) if request.is_json else (request.form.to_dict() or None)
    except (RecursionError, ValueError):
        return None


def _open_draft() -> None:
    if request.method not in STATE_CHANGING or request.url_rule is None:
        return
    if request.endpoint in SIGN_IN_ENDPOINTS:
        return
    arguments = request.view_args or {}
    segments = [part for part in request.url_rule.rule.split("/") if part and not part.startswith("<")]
    draft = AuditDraft(
        action=f"{request.method} {route_of(request.url_rule.rule)}",
        address=request.remote_addr,
        target_type=segments[0] if segments else None,
        target_id=str(list(arguments.values())[-1]) if arguments else None,
        request_body=_request_body(),
        actor_of=_caller_now,
    )
    g.netraven_audit = open_draft(draft)


def _close_draft(_error: BaseException | None) -> None:
    token = g.pop("netraven_audit", None)
    if token is not None:
        close_draft(token)


def record_sign_in(username: str, user_id: int | None, succeeded: bool, reason: str | None = None) -> None:
    """One row per sign-in attempt, in a transaction of its own."""
    changes: dict[str, Any] = {"username": username[:150], "succeeded": succeeded}
    if reason:
        changes["reason"] = reason
    draft = AuditDraft(
        action="sign_in" if succeeded else "sign_in_failed",
        actor_id=user_id if succeeded else None,
        actor=username[:150] if succeeded else "-",
        address=request.remote_addr,
        target_type="users",
        target_id=str(user_id) if user_id is not None else None,
        request_body=changes,
    )
    record_event(session_factory(current_settings()), draft)


def init_app(app: Flask) -> None:
    install()
    app.before_request(_open_draft)
    app.teardown_request(_close_draft)


class AuditQuerySchema(InputSchema):
    actor = fields.String(validate=validate.Length(min=1, max=150), metadata={"description": "a username"})
    action = fields.String(
        validate=validate.Length(min=1, max=200),
        metadata={"description": "an action, or its start (e.g. `POST /schedules`, `sign_in`)"},
    )
    target_type = fields.String(validate=validate.Length(min=1, max=64))
    since = fields.AwareDateTime(metadata={"description": "from this instant (ISO 8601 with offset)"})
    until = fields.AwareDateTime(metadata={"description": "before this instant"})
    limit = fields.Integer(load_default=100, validate=validate.Range(min=1, max=500))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=1_000_000))


class AuditEventSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    actor = fields.String(required=True)
    actor_id = fields.Integer(allow_none=True)
    action = fields.String(required=True)
    target_type = fields.String(allow_none=True)
    target_id = fields.String(allow_none=True)
    changes = fields.Dict(
        required=True, metadata={"description": "before/after of changed fields, secrets masked"}
    )
    address = fields.String(allow_none=True)


def audit_events(
    *,
    actor: str | None = None,
    action: str | None = None,
    target_type: str | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[AuditEvent]:
    """The events matching the filters, newest first (the API's and the dashboard's one query)."""
    query = select(AuditEvent)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if action is not None:
        query = query.where(AuditEvent.action.startswith(action, autoescape=True))
    if target_type is not None:
        query = query.where(AuditEvent.target_type == target_type)
    if since is not None:
        query = query.where(AuditEvent.at >= since)
    if until is not None:
        query = query.where(AuditEvent.at < until)
    query = query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc()).limit(limit).offset(offset)
    return list(db_session().scalars(query))


@blp.route("")
class AuditLog(MethodView):
    @blp.arguments(AuditQuerySchema, location="query")
    @blp.response(200, AuditEventSchema(many=True))
    @errors(blp, 401, 403, 422)
    def get(self, query: dict[str, Any]) -> list[AuditEvent]:
        """What was changed, by whom, when and from where: newest first (admins only)."""
        if not current_caller().is_admin:
            fail(403, "only admins may read the audit log")
        return audit_events(**query)
