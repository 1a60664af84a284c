"""What was sent to a user (``me``: the caller): ``GET /users/{user_id}/notifications`` (sent,
and what maintenance windows held back from them, newest first),
``GET /users/{user_id}/notifications/{message_id}`` (one message in any state), and
``POST /users/me/notifications/test`` (a test message on one channel, through the outbox)."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate

from api.context import current_settings, db_session
from api.errors import fail
from api.pagination import PaginatedBlueprint, requested_window
from api.security import current_caller, errors, protect, target_user
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.models import User, utcnow
from netraven_tasks.notifications.history import notification_history
from netraven_tasks.notifications.models import OutboxMessage
from netraven_tasks.notifications.tasks import renderer, wake_delivery
from netraven_tasks.notifications.test_messages import (
    ChannelNotReady,
    message_of,
    send_test,
    testable_channels,
)

blp = protect(
    PaginatedBlueprint("notifications", __name__, url_prefix="/users", description="Notifications sent")
)


class SentNotificationSchema(Schema):
    id = fields.Integer(required=True, metadata={"description": "the outbox row, or the suppressed record"})
    state = fields.String(
        required=True,
        metadata={"description": "sent, or suppressed (held back by a maintenance window: not sent)"},
    )
    channel = fields.String(
        allow_none=True, metadata={"description": "email, slack, webhook, …; null when suppressed"}
    )
    kind = fields.String(
        required=True, metadata={"description": "job (one outcome or alert), digest, or test"}
    )
    job_log_id = fields.Integer(allow_none=True)
    event = fields.String(allow_none=True, metadata={"description": "completed, failed or canceled"})
    period = fields.String(allow_none=True, metadata={"description": "hourly or daily, for digests"})
    period_start = fields.DateTime(allow_none=True)
    address = fields.String(allow_none=True, metadata={"description": "null when suppressed"})
    subject = fields.String(required=True)
    attempts = fields.Integer(required=True)
    sent_at = fields.DateTime(allow_none=True)
    provider_message_id = fields.String(allow_none=True)
    maintenance_window_id = fields.Integer(
        allow_none=True, metadata={"description": "the window that suppressed it"}
    )
    suppressed_at = fields.DateTime(allow_none=True)


@blp.route("/<string:user_id>/notifications")
class SentNotifications(MethodView):
    @blp.response(200, SentNotificationSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401, 403, 404)
    def get(self, user_id: str, pagination_parameters: PaginationParameters) -> list[Any]:
        """Messages sent to the user (one per job outcome or digest and channel), and those a
        maintenance window suppressed (one per run and event), newest first."""
        user = target_user(user_id, "notifications")
        limit, offset = requested_window(pagination_parameters) or (0, 0)  # past the end: no rows
        rows, total = notification_history(db_session(), user.id, limit=limit, offset=offset)
        pagination_parameters.item_count = total
        return rows


class MessageStateSchema(SentNotificationSchema):
    state = fields.String(required=True, metadata={"description": "pending, sending, sent or failed"})
    next_attempt_at = fields.DateTime(allow_none=True, metadata={"description": "when it is tried next"})
    last_error = fields.String(allow_none=True, metadata={"description": "why the last attempt failed"})


class TestMessageSchema(InputSchema):
    channel = fields.String(
        required=True,
        validate=validate.OneOf([spec.name for spec in testable_channels()]),
        metadata={"description": "a channel people set up in their preferences"},
    )


@blp.route("/<string:user_id>/notifications/<int:message_id>")
class OneMessage(MethodView):
    @blp.response(200, MessageStateSchema)
    @errors(blp, 401, 403, 404)
    def get(self, user_id: str, message_id: int) -> OutboxMessage:
        """One message to the user, in any state: pending, being sent, sent, or failed with its error."""
        user = target_user(user_id, "notifications")
        message = message_of(db_session(), user.id, message_id)
        if message is None:
            fail(404, f"no message {message_id} to this user")
        return message


@blp.route("/me/notifications/test")
class TestMessage(MethodView):
    @blp.arguments(TestMessageSchema)
    @blp.response(202, MessageStateSchema)
    @errors(blp, 401, 422, 429)
    def post(self, body: dict[str, str]) -> OutboxMessage:
        """Send yourself a test message on one channel, to the address in your saved preferences.

        It goes through the outbox like any notification; follow it with
        ``GET /users/me/notifications/{id}``. At most 5 tests per 10 minutes."""
        session, settings = db_session(), current_settings()
        user = session.get(User, current_caller().id)
        if user is None:
            fail(401, "your account no longer exists")
        try:
            message = send_test(session, user, body["channel"], settings, renderer(settings), utcnow())
        except ChannelNotReady as error:
            fail(422, f"channel: {error}", errors={"json": {"channel": [str(error)]}})
        session.commit()
        wake_delivery(None, [message.id])
        return message
