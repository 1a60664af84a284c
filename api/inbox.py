"""``GET /users/me/inbox`` and ``POST /users/me/inbox/{id}/read``: in-app notifications.

The inbox is the caller's own (``me``); an admin may read another user's by id but not mark it.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.context import db_session
from api.errors import fail
from api.json_body import Blueprint
from api.security import current_caller, errors, protect, target_user
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.notifications.inbox import inbox_page, mark_read

blp = protect(Blueprint("inbox", __name__, url_prefix="/users", description="In-app notifications"))

MAX_ID = 2**63 - 1


class InboxItemSchema(Schema):
    id = fields.Integer(required=True)
    event = fields.String(allow_none=True, metadata={"description": "failed, missed, recovered, …"})
    subject = fields.String(required=True)
    body = fields.String(required=True)
    link = fields.String(allow_none=True)
    created_at = fields.DateTime(required=True)
    read_at = fields.DateTime(allow_none=True)
    read = fields.Function(lambda item: item.read_at is not None)


class InboxSchema(Schema):
    unread = fields.Integer(required=True, metadata={"description": "unread items in all"})
    total = fields.Integer(required=True, metadata={"description": "items matching the query"})
    items = fields.List(fields.Nested(InboxItemSchema), required=True)


class InboxQuerySchema(InputSchema):
    unread = fields.Boolean(load_default=False, metadata={"description": "only unread items"})
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    offset = fields.Integer(load_default=0, validate=validate.Range(min=0, max=2**31 - 1))


@blp.route("/<string:user_id>/inbox")
class Inbox(MethodView):
    @blp.arguments(InboxQuerySchema, location="query")
    @blp.response(200, InboxSchema)
    @errors(blp, 401, 403, 404)
    def get(self, query: dict[str, Any], user_id: str) -> dict[str, Any]:
        """In-app notifications, newest first, with the unread count."""
        user = target_user(user_id, "inbox")
        items, total, unread = inbox_page(
            db_session(), user.id, limit=query["limit"], offset=query["offset"], unread_only=query["unread"]
        )
        return {"unread": unread, "total": total, "items": items}


@blp.route("/me/inbox/<int:item_id>/read")
class InboxItemRead(MethodView):
    @blp.response(200, InboxItemSchema)
    @errors(blp, 401, 404)
    def post(self, item_id: int) -> Any:
        """Mark one of your notifications read (again: no change)."""
        session = db_session()
        item = mark_read(session, current_caller().id, item_id) if 0 < item_id <= MAX_ID else None
        if item is None:
            fail(404, f"no inbox item {item_id}")
        session.commit()
        return item
