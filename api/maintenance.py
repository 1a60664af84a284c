"""``GET|POST /maintenance-windows`` and ``GET|PATCH|DELETE /maintenance-windows/{window_id}``.

Every signed-in user reads the windows (an operator wants to know why no alert came); only admins
create, change, end or delete them. Team managers do not (yet): teams are being built beside this.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate

from api.context import db_session
from api.errors import fail
from api.pagination import PaginatedBlueprint, requested_window
from api.security import current_caller, errors, protect
from api.session_cookie import SAFE_METHODS
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.maintenance.schemas import WindowSchema
from netraven_tasks.maintenance.windows import (
    WindowState,
    create_window,
    delete_window,
    describe,
    get_window,
    list_windows,
    update_window,
)
from netraven_tasks.models import utcnow

blp = protect(
    PaginatedBlueprint(
        "maintenance", __name__, url_prefix="/maintenance-windows", description="Maintenance windows"
    )
)

EXAMPLE = {
    "starts_at": "2026-03-01T22:00:00+01:00",
    "ends_at": "2026-03-02T02:00:00+01:00",
    "match": {"sites": ["FRA"], "devices": ["core-rtr-01"]},
    "skip_runs": True,
    "reason": "FRA core router upgrade (CHG-1234)",
}


class MatchOutSchema(Schema):
    devices = fields.List(fields.String(), required=True)
    sites = fields.List(fields.String(), required=True)
    tags = fields.List(fields.String(), required=True)
    schedule_ids = fields.List(fields.Integer(), required=True)


class WindowOutSchema(Schema):
    id = fields.Integer(required=True)
    starts_at = fields.DateTime(required=True)
    ends_at = fields.DateTime(required=True)
    match = fields.Nested(MatchOutSchema, required=True)
    skip_runs = fields.Boolean(required=True)
    reason = fields.String(required=True)
    created_by = fields.Integer(allow_none=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)
    ended_handled_at = fields.DateTime(
        allow_none=True, metadata={"description": "when those still failing were told (after the end)"}
    )
    state = fields.String(required=True, metadata={"description": "upcoming, active or ended"})
    suppressed = fields.Integer(required=True, metadata={"description": "messages it held back"})
    skipped_slots = fields.Integer(required=True, metadata={"description": "scheduled slots it skipped"})


class WindowChangesSchema(WindowSchema):
    """PATCH: any subset of the window's fields."""


class WindowQuerySchema(InputSchema):
    state = fields.String(
        validate=validate.OneOf([state.value for state in WindowState]),
        metadata={"description": "upcoming, active or ended"},
    )


@blp.before_request
def _admins_write() -> None:
    # Before the body is read: a user who may not write learns that, not what the body lacks.
    if request.method not in SAFE_METHODS and not current_caller().is_admin:
        fail(403, "only admins may change maintenance windows")


def _one(window_id: int) -> dict[str, Any]:
    session = db_session()
    return describe(session, [get_window(session, window_id)], utcnow())[0]


@blp.route("")
class MaintenanceWindows(MethodView):
    @blp.arguments(WindowQuerySchema, location="query")
    @blp.response(200, WindowOutSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=200)
    @errors(blp, 401, 422)
    def get(self, query: dict[str, Any], pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """Windows, the latest starting first; ``state`` filters (the X-Pagination header has the total)."""
        session, now = db_session(), utcnow()
        limit, offset = requested_window(pagination_parameters) or (0, 0)
        state = WindowState(query["state"]) if "state" in query else None
        windows, pagination_parameters.item_count = list_windows(session, now, state, limit, offset)
        return describe(session, windows, now)

    @blp.arguments(WindowSchema, example=EXAMPLE)
    @blp.response(201, WindowOutSchema, headers={"Location": {"schema": {"type": "string"}}})
    @errors(blp, 401, 403, 422)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a window (admins): ``match`` needs at least one of devices, sites, tags or
        schedule_ids; a run is covered when any one of them matches."""
        session, now = db_session(), utcnow()
        window = create_window(session, body, current_caller().id, now)
        session.commit()
        location = url_for("maintenance.MaintenanceWindowDetail", window_id=window.id)
        return describe(session, [window], now)[0], 201, {"Location": location}


@blp.route("/<int:window_id>")
class MaintenanceWindowDetail(MethodView):
    @blp.response(200, WindowOutSchema)
    @errors(blp, 401, 404)
    def get(self, window_id: int) -> dict[str, Any]:
        """One window, with its state and how much it held back and skipped."""
        return _one(window_id)

    @blp.arguments(WindowChangesSchema(partial=True))
    @blp.response(200, WindowOutSchema)
    @errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body: dict[str, Any], window_id: int) -> dict[str, Any]:
        """Change the fields given (admins); ``match`` replaces the whole match. Setting ``ends_at``
        to now ends an active window. A window whose end was handled cannot change (409)."""
        session = db_session()
        update_window(session, get_window(session, window_id), body, utcnow())
        session.commit()
        return _one(window_id)

    @blp.response(204)
    @errors(blp, 401, 403, 404, 409)
    def delete(self, window_id: int) -> None:
        """Delete an upcoming or ended window with its records (admins); an active one must be
        ended first (409), so that devices still failing are told."""
        session = db_session()
        delete_window(session, get_window(session, window_id), utcnow())
        session.commit()
