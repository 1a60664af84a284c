"""Notification preferences: the fields, their defaults, and validation shared by API and notifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate

FREQUENCIES = ("immediate", "hourly", "daily")
URL_FIELDS = ("slack_webhook_url", "webhook_url")

DEFAULT_PREFERENCES: dict[str, Any] = {
    "email_notifications": True,
    "email_on_job_completion": True,
    "email_on_job_failure": True,
    "notification_frequency": "immediate",
    # Optional extra channels (issue: notifications); None means the channel is off.
    "slack_webhook_url": None,
    "webhook_url": None,
}


def effective_preferences(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored preferences over the defaults (a user created before a field existed gets its default)."""
    merged = dict(DEFAULT_PREFERENCES)
    merged.update(stored or {})
    return merged


class StrictBoolean(fields.Boolean):
    """Only JSON ``true``/``false``: ``"yes"``, ``1`` or ``"true"`` are wrong types, not booleans."""

    default_error_messages = {"invalid": "must be true or false"}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


class PreferencesSchema(Schema):
    """The preferences object as the API takes it; ``partial=True`` for PATCH."""

    class Meta:
        unknown = RAISE

    email_notifications = StrictBoolean(required=True, metadata={"description": "any mail at all"})
    email_on_job_completion = StrictBoolean(required=True)
    email_on_job_failure = StrictBoolean(required=True)
    notification_frequency = fields.String(
        required=True,
        validate=validate.OneOf(FREQUENCIES, error=f"must be one of {', '.join(FREQUENCIES)}"),
        metadata={"description": "immediate mails, or one hourly or daily digest"},
    )
    slack_webhook_url = fields.String(
        allow_none=True,
        load_default=None,
        validate=[validate.Length(max=2048), validate.Regexp(r"^[^\x00]*$", error="must not contain NUL")],
        metadata={"description": "Slack incoming-webhook URL, or null for none"},
    )
    webhook_url = fields.String(
        allow_none=True,
        load_default=None,
        validate=[validate.Length(max=2048), validate.Regexp(r"^[^\x00]*$", error="must not contain NUL")],
        metadata={"description": "URL that receives a JSON POST per notification, or null for none"},
    )


def check_preference_urls(preferences: Mapping[str, Any], *, allow_private_webhooks: bool) -> None:
    """Raise ValidationError naming each webhook URL that is unsafe to POST to (SSRF guard)."""
    from netraven_tasks.notifications.url_safety import UnsafeURL, check_webhook_url

    problems: dict[str, list[str]] = {}
    for name in URL_FIELDS:
        url = preferences.get(name)
        if url is None:
            continue
        try:
            check_webhook_url(url, allow_private=allow_private_webhooks)
        except UnsafeURL as error:
            problems[name] = [str(error)]
        except ValueError:  # urlsplit refuses some malformed URLs itself (e.g. a broken IPv6 host)
            problems[name] = ["is not a valid URL"]
    if problems:
        raise ValidationError(problems)


def validate_preferences(
    data: Mapping[str, Any], *, allow_private_webhooks: bool, partial: bool = False
) -> dict[str, Any]:
    """The preferences (with ``partial``: the changes) in ``data``; ValidationError names bad fields."""
    loaded: dict[str, Any] = PreferencesSchema(partial=partial).load(data)
    if partial:  # load_default would otherwise add URL fields the caller did not name
        loaded = {key: value for key, value in loaded.items() if key in data}
    check_preference_urls(loaded, allow_private_webhooks=allow_private_webhooks)
    return loaded


def updated_preferences(stored: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: the effective preferences with ``changes`` applied (never mutated in place)."""
    return {**effective_preferences(stored), **changes}
