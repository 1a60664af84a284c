"""``GET|POST /routes``, ``GET|PATCH|DELETE /routes/{route_id}`` and
``GET /routes/{route_id}/deliveries``: shared destinations and their delivery history.

Admins see and edit every route; a team's managers edit the team's routes, its members read them;
a route without a team is the admins' (``netraven_tasks.routes.editing``). Another's route
answers 404. Targets are secrets: every answer masks them.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from api.context import current_settings, db_session
from api.errors import fail
from api.pagination import PaginatedBlueprint, requested_window
from api.security import current_caller, errors, protect
from netraven_tasks.models import utcnow
from netraven_tasks.notifications.models import OutboxMessage
from netraven_tasks.routes.editing import (
    RouteBodySchema,
    create_route,
    describe,
    ensure_may_edit,
    load_changes,
    load_new,
    may_read,
    update_route,
    visible_routes,
)
from netraven_tasks.routes.history import deliveries
from netraven_tasks.routes.models import Route

blp = protect(
    PaginatedBlueprint("routes", __name__, url_prefix="/routes", description="Routes: shared destinations")
)

MAX_ID = 2**31 - 1
EXAMPLE = {
    "name": "FRA backups to the NOC",
    "team_id": None,
    "match": {"job_types": ["config_backup"], "sites": ["FRA"], "events": ["failed", "recovered"]},
    "channel": "pagerduty",
    "target": "R0UT1NGKEY0123456789abcdef012345",
}


class RouteChangesSchema(RouteBodySchema):
    """PATCH: any subset of the route's fields (a new channel needs a new target)."""


class MatchAnswerSchema(Schema):
    job_types = fields.List(fields.String(), required=True)
    sites = fields.List(fields.String(), required=True)
    tags = fields.List(fields.String(), required=True)
    events = fields.List(fields.String(), required=True)


class RouteSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    team_id = fields.Integer(allow_none=True)
    match = fields.Nested(MatchAnswerSchema, required=True)
    channel = fields.String(required=True)
    target = fields.String(required=True, metadata={"description": "masked: a URL's host, a key's last 4"})
    enabled = fields.Boolean(required=True)
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class RouteDeliverySchema(Schema):
    id = fields.Integer(required=True)
    event = fields.String(allow_none=True)
    job_log_id = fields.Integer(allow_none=True)
    subject = fields.String(required=True)
    state = fields.String(required=True, metadata={"description": "pending, sending, sent or failed"})
    attempts = fields.Integer(required=True)
    next_attempt_at = fields.DateTime(required=True)
    last_error = fields.String(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    sent_at = fields.DateTime(allow_none=True)


def _readable_route(route_id: int) -> Route:
    caller = current_caller()
    session = db_session()
    route = session.get(Route, route_id) if 0 < route_id <= MAX_ID else None
    if route is None or not may_read(session, caller.id, caller.is_admin, route):
        fail(404, f"no route {route_id}")
    return route


def _allow_private() -> bool:
    return current_settings().allow_private_webhooks


@blp.route("")
class Routes(MethodView):
    @blp.response(200, RouteSchema(many=True))
    @errors(blp, 401)
    def get(self) -> list[dict[str, Any]]:
        """The routes you may read (an admin: all; otherwise your teams'), oldest first."""
        caller = current_caller()
        return [describe(route) for route in visible_routes(db_session(), caller.id, caller.is_admin)]

    @blp.arguments(RouteBodySchema, example=EXAMPLE)
    @blp.response(201, RouteSchema, headers={"Location": {"schema": {"type": "string"}}})
    @errors(blp, 401, 403, 422)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a route: an admin any, a team's manager one of the team (``team_id``). The target
        is checked for its channel (a URL by the SSRF policy, a key by its form)."""
        caller = current_caller()
        session = db_session()
        ensure_may_edit(session, caller.id, caller.is_admin, body.get("team_id"))
        values = load_new(body, allow_private=_allow_private())
        route = create_route(session, values, caller.id, utcnow())
        session.commit()
        return describe(route), 201, {"Location": url_for("routes.RouteDetail", route_id=route.id)}


@blp.route("/<int:route_id>")
class RouteDetail(MethodView):
    @blp.response(200, RouteSchema)
    @errors(blp, 401, 404)
    def get(self, route_id: int) -> dict[str, Any]:
        """One route, its target masked."""
        return describe(_readable_route(route_id))

    @blp.arguments(RouteChangesSchema(partial=True))
    @blp.response(200, RouteSchema)
    @errors(blp, 401, 403, 404, 422)
    def patch(self, body: dict[str, Any], route_id: int) -> dict[str, Any]:
        """Change the fields given; moving a route to another team needs rights in both."""
        caller = current_caller()
        session = db_session()
        route = _readable_route(route_id)
        ensure_may_edit(session, caller.id, caller.is_admin, route.team_id)
        if "team_id" in body:
            ensure_may_edit(session, caller.id, caller.is_admin, body["team_id"])
        update_route(route, load_changes(route, body, allow_private=_allow_private()), utcnow())
        session.commit()
        return describe(route)

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, route_id: int) -> None:
        """Delete the route with its pending messages and its delivery history."""
        caller = current_caller()
        session = db_session()
        route = _readable_route(route_id)
        ensure_may_edit(session, caller.id, caller.is_admin, route.team_id)
        session.delete(route)
        session.commit()


@blp.route("/<int:route_id>/deliveries")
class RouteDeliveries(MethodView):
    @blp.response(200, RouteDeliverySchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401, 404)
    def get(self, route_id: int, pagination_parameters: PaginationParameters) -> list[OutboxMessage]:
        """The route's messages, newest first: each with its event, run, state and last error
        (paginated; the X-Pagination header has the total)."""
        route = _readable_route(route_id)
        window = requested_window(pagination_parameters)
        limit, offset = window if window is not None else (0, 0)
        total, rows = deliveries(db_session(), route.id, limit, offset)
        pagination_parameters.item_count = total
        return rows if window is not None else []
