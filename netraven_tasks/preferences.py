"""Notification preferences: the fields, their defaults, and validation shared by API and notifier."""

from __future__ import annotations

import copy
from collections.abc import Mapping
from functools import cache
from typing import Any

from marshmallow import RAISE, ValidationError, fields, validate, validates, validates_schema

from netraven_tasks.input_schema import InputSchema
from netraven_tasks.notifications.channels import registry
from netraven_tasks.notifications.channels.email import FREQUENCIES
from netraven_tasks.notifications.channels.spec import Preference, StrictBoolean
from netraven_tasks.notifications.url_safety import UnsafeURL, check_webhook_url
from netraven_tasks.schedules.timing import TimingError, zone

__all__ = ["FREQUENCIES", "StrictBoolean"]  # re-exported: the email channel and the spec own them

NOTIFY_ON = ("every_outcome", "state_changes")
CONFIG_CHANGES_IN_BATCHES = ("summary", "each")
# The preferences of no one channel (schedules and alerts); each channel declares its own.
GENERAL_DEFAULTS: dict[str, Any] = {
    "notify_on": None,  # None: state_changes for scheduled runs, every_outcome for the others
    "quiet_hours": None,  # {"start": "22:00", "end": "07:00", "timezone": "Europe/Berlin"}
    "critical_job_types": [],  # failures of these are sent even in quiet hours
    "notify_on_config_change": True,  # a changed backup of a device the user may read
    "config_changes_in_batches": "summary",  # a fleet run's changes: in its summary, or "each" too
}


def channel_preferences() -> list[Preference]:
    """The preference fields of every registered channel, in the registry's order."""
    return [preference for spec in registry.channels() for preference in spec.preferences]


@cache
def _defaults(version: int) -> dict[str, Any]:
    return {**{p.name: p.default for p in channel_preferences()}, **GENERAL_DEFAULTS}


def default_preferences() -> dict[str, Any]:
    """A new dict: what a user who never changed anything has."""
    return copy.deepcopy(_defaults(registry.version()))


def url_fields() -> tuple[str, ...]:
    """The preferences that are URLs we POST to (the SSRF guard checks them when they are saved)."""
    return tuple(p.name for p in channel_preferences() if p.checked_url)


DEFAULT_PREFERENCES: dict[str, Any] = default_preferences()  # what create_user stores for a new user


def effective_preferences(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored preferences over the defaults (a user created before a field existed gets its default)."""
    merged = dict(_defaults(registry.version()))
    merged.update(stored or {})
    return merged


class QuietHoursSchema(InputSchema):
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


class ChannelFieldsSchema(InputSchema):
    """A schema of the declared fields plus every registered channel's preference fields (the
    ``field`` or the ``stored`` form of each), rebuilt when the registry changes."""

    channel_form = "field"

    def _init_fields(self) -> None:
        self._registry_version = registry.version()
        self.declared_fields = {
            **copy.deepcopy(type(self)._declared_fields),
            **{p.name: getattr(p, self.channel_form)() for p in channel_preferences()},
        }
        super()._init_fields()

    def _current(self) -> None:
        if self._registry_version != registry.version():
            self._init_fields()

    def load(self, data: Any, **kwargs: Any) -> Any:
        self._current()
        return super().load(data, **kwargs)

    def dump(self, obj: Any, **kwargs: Any) -> Any:
        self._current()
        return super().dump(obj, **kwargs)


class PreferencesSchema(ChannelFieldsSchema):
    """The preferences object as the API takes it (``partial=True`` for PATCH): the schedule and
    alert fields here, each channel's own from the registry."""

    class Meta:
        unknown = RAISE

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
    notify_on_config_change = StrictBoolean(
        load_default=True,
        metadata={"description": "a message with the diff when a device's configuration changes"},
    )
    config_changes_in_batches = fields.String(
        load_default="summary",
        validate=validate.OneOf(CONFIG_CHANGES_IN_BATCHES, error="must be summary or each"),
        metadata={"description": "in a fleet run: the changes in its summary only, or one message each too"},
    )


class StoredPreferencesSchema(ChannelFieldsSchema):
    """The preferences object as the API returns it."""

    channel_form = "stored"

    notify_on = fields.String(allow_none=True)
    quiet_hours = fields.Dict(allow_none=True)
    critical_job_types = fields.List(fields.String())
    notify_on_config_change = fields.Boolean()
    config_changes_in_batches = fields.String()


def check_preference_urls(preferences: Mapping[str, Any], *, allow_private_webhooks: bool) -> None:
    """Raise ValidationError naming each webhook URL that is unsafe to POST to (SSRF guard)."""
    problems: dict[str, list[str]] = {}
    for name in url_fields():
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


def updated_preferences(stored: Mapping[str, Any] | None, changes: Mapping[str, Any]) -> dict[str, Any]:
    """A new dict: the effective preferences with ``changes`` applied (never mutated in place)."""
    return {**effective_preferences(stored), **changes}
