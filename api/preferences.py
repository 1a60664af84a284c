"""``GET|PUT|PATCH /users/{user_id}/notification-preferences`` (``me`` for the caller).

A user reads and changes only their own preferences (another id: 403); an admin anyone's.
The body is the preferences object itself; its schemas live in ``netraven_tasks.preferences``
(each channel's fields come from the channel registry).
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from api.context import current_settings, db_session
from api.json_body import Blueprint
from api.security import errors, protect, target_user
from netraven_tasks.models import User
from netraven_tasks.preferences import (
    PreferencesSchema,
    StoredPreferencesSchema,
    check_preference_urls,
    effective_preferences,
    updated_preferences,
)

blp = protect(Blueprint("preferences", __name__, url_prefix="/users", description="Notification preferences"))


class PreferenceChangesSchema(PreferencesSchema):
    """PATCH: any subset of the preferences fields."""


def _save(user: User, changes: dict[str, Any]) -> dict[str, Any]:
    check_preference_urls(changes, allow_private_webhooks=current_settings().allow_private_webhooks)
    session = db_session()
    # A new dict, assigned: the JSON(B) column sees the change and writes it.
    user.notification_preferences = updated_preferences(user.notification_preferences, changes)
    session.commit()
    return effective_preferences(user.notification_preferences)


@blp.route("/<string:user_id>/notification-preferences")
class NotificationPreferences(MethodView):
    @blp.response(200, StoredPreferencesSchema)
    @errors(blp, 401, 403, 404)
    def get(self, user_id: str) -> dict[str, Any]:
        """The preferences of a user (``me``: the caller)."""
        return effective_preferences(
            target_user(user_id, "notification preferences").notification_preferences
        )

    @blp.arguments(PreferencesSchema)
    @blp.response(200, StoredPreferencesSchema)
    @errors(blp, 401, 403, 404)
    def put(self, preferences: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Replace the preferences: the four settings are required; an absent webhook URL is null."""
        return _save(target_user(user_id, "notification preferences"), preferences)

    @blp.arguments(PreferenceChangesSchema(partial=True))
    @blp.response(200, StoredPreferencesSchema)
    @errors(blp, 401, 403, 404)
    def patch(self, changes: dict[str, Any], user_id: str) -> dict[str, Any]:
        """Change only the fields given; the others keep their values."""
        return _save(target_user(user_id, "notification preferences"), changes)
