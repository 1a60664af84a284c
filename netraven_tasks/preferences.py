"""Notification preferences: the fields, their defaults, and validation shared by API and notifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from marshmallow import RAISE, Schema, ValidationError, fields, validate, validates, validates_schema

from netraven_tasks.notifications.url_safety import UnsafeURL, check_webhook_url
from netraven_tasks.schedules.timing import TimingError, zone

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
    # Schedules and alerts: how often to hear about runs, quiet hours, SMS and the in-app inbox.
    "notify_on": None,  # None: state_changes for scheduled runs, every_outcome for the others
    "quiet_hours": None,  # {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
    "critical_job_types": [],  # failures of these are sent even in quiet hours
    "sms_number": None,  # E.164, e.g. +4915112345678
    "sms_on_job_failure": False,
    "inapp_notifications": False,  # the dashboard's inbox (GET /users/me/inbox)
}
NOTIFY_ON = ("every_outcome", "state_changes")


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


class QuietHoursSchema(Schema):
    """A daily window in a time zone; it may cross midnight (22:00 to 07:00)."""

    class Meta:
        unknown = RAISE

    start = fields.String(
        required=True, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="must be HH:MM")
    )
    end = fields.String(
        required=True, validate=validate.Regexp(r"^([01]\d|2[0-3]):[0-5]\d$", error="must be HH:MM")
    )
    timezone = fields.String(load_default="UTC", validate=validate.Length(min=1, max=64))

    @validates("timezone")
    def known_zone(self, value: str, **_: Any) -> None:
        try:
            zone(value)
        except TimingError as error:
            raise ValidationError(str(error)) from None

    @validates_schema
    def not_empty(self, data: Mapping[str, Any], **_: Any) -> None:
        if data.get("start") is not None and data.get("start") == data.get("end"):
            raise ValidationError("must differ from start", field_name="end")


def check_e164(value: str) -> None:
    """An SMS number in E.164 form (``+`` and digits) that is a valid number (phonenumbers)."""
    import phonenumbers

    hint = "must be an E.164 number such as +4915112345678"
    if not value.startswith("+") or not value[1:].isdigit() or len(value) > 16:
        raise ValidationError(hint)
    try:
        parsed = phonenumbers.parse(value, None)
    except phonenumbers.NumberParseException:
        raise ValidationError(hint) from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValidationError(f"{hint} (this one is not a valid number)")


class AlertPreferencesSchema(Schema):
    """The preference fields of schedules and alerts, mixed into ``PreferencesSchema``."""

    notify_on = fields.String(
        allow_none=True,
        load_default=None,
        validate=validate.OneOf(NOTIFY_ON, error=f"must be one of {', '.join(NOTIFY_ON)} or null"),
        metadata={"description": "null: state_changes for scheduled runs, every_outcome for the others"},
    )
    quiet_hours = fields.Nested(QuietHoursSchema, allow_none=True, load_default=None)
    critical_job_types = fields.List(
        fields.String(validate=validate.Length(min=1, max=100)),
        load_default=list,
        validate=validate.Length(max=100),
        metadata={"description": "job types whose failures are sent even in quiet hours"},
    )
    sms_number = fields.String(allow_none=True, load_default=None, validate=check_e164)
    sms_on_job_failure = StrictBoolean(load_default=False)
    inapp_notifications = StrictBoolean(load_default=False)


class PreferencesSchema(AlertPreferencesSchema):
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
    if partial:  # load_default would otherwise add optional fields the caller did not name
        loaded = {key: value for key, value in loaded.items() if key in data}
    check_preference_urls(loaded, allow_private_webhooks=allow_private_webhooks)
    return loaded


def updated_preferences(stored: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: the effective preferences with ``changes`` applied (never mutated in place)."""
    return {**effective_preferences(stored), **changes}
