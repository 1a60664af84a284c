"""``GET /users/{user_id}/notifications``: what was sent to a user (``me``: the caller), newest first."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields

from api.context import db_session
from api.pagination import PaginatedBlueprint, requested_window
from api.security import errors, protect, target_user
from netraven_tasks.notifications.outbox import sent_to

blp = protect(
    PaginatedBlueprint("notifications", __name__, url_prefix="/users", description="Notifications sent")
)


class SentNotificationSchema(Schema):
    id = fields.Integer(required=True)
    channel = fields.String(required=True, metadata={"description": "email, slack or webhook"})
    kind = fields.String(required=True, metadata={"description": "job (one outcome) or digest"})
    job_log_id = fields.Integer(allow_none=True)
    event = fields.String(allow_none=True, metadata={"description": "completed, failed or canceled"})
    period = fields.String(allow_none=True, metadata={"description": "hourly or daily, for digests"})
    period_start = fields.DateTime(allow_none=True)
    address = fields.String(required=True)
    subject = fields.String(required=True)
    attempts = fields.Integer(required=True)
    sent_at = fields.DateTime(allow_none=True)
    provider_message_id = fields.String(allow_none=True)


@blp.route("/<string:user_id>/notifications")
class SentNotifications(MethodView):
    @blp.response(200, SentNotificationSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401, 403, 404)
    def get(self, user_id: str, pagination_parameters: PaginationParameters) -> list[Any]:
        """Messages sent to the user: one per job outcome or digest and channel."""
        user = target_user(user_id, "notifications")
        limit, offset = requested_window(pagination_parameters) or (0, 0)  # past the end: no rows
        rows, total = sent_to(db_session(), user.id, limit=limit, offset=offset)
        pagination_parameters.item_count = total
        return rows
