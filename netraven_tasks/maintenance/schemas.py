"""What a maintenance window may hold: the API and the CLI load windows through these schemas."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import RAISE, ValidationError, fields, validate, validates_schema

from netraven_tasks.devices.schemas import SITE_WORD, TAG_WORD, FullMatch
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.notifications.channels.spec import StrictBoolean

MAX_DEVICES = 1000
MAX_SITES = 100
MAX_TAGS = 100
MAX_SCHEDULES = 1000
MAX_REASON = 500
MATCH_FIELDS = ("devices", "sites", "tags", "schedule_ids")
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
# Rules the OpenAPI document cannot state (the fuzz tests know these messages).
OUT_OF_SPAN = f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"
NOTHING_MATCHED = "give at least one of devices, sites, tags or schedule_ids"
ENDS_BEFORE_START = "must be later than starts_at"
# A run's device as it records it: an inventory name, a host name or an IP address.
DEVICE = FullMatch(
    r"^[A-Za-z0-9_][A-Za-z0-9_.:-]{0,252}$",
    error="must be a device name, host name or IP address (letters, digits, _ . : -)",
)


class WindowTime(fields.AwareDateTime):
    """An ISO 8601 datetime with its offset (a naive one is refused: whose midnight?), as UTC."""

    default_error_messages = {
        "invalid_awareness": "must carry a UTC offset, e.g. 2026-03-01T22:00:00+01:00 or …Z",
        "out_of_range": OUT_OF_SPAN,
    }

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        loaded: datetime = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = loaded.astimezone(UTC)
        except (OverflowError, ValueError):
            raise self.make_error("out_of_range") from None
        if not EARLIEST <= in_utc <= LATEST:
            raise self.make_error("out_of_range")
        return in_utc


def _list(item: fields.Field, most: int, what: str) -> fields.List:
    return fields.List(
        item,
        validate=validate.Length(min=1, max=most, error=f"from 1 to {most} {what} (leave it out for none)"),
        load_default=list,
    )


class WindowMatchSchema(InputSchema):
    """What a window covers: any one list matching is enough."""

    class Meta:
        unknown = RAISE

    devices = _list(fields.String(validate=DEVICE), MAX_DEVICES, "devices")
    sites = _list(fields.String(validate=SITE_WORD), MAX_SITES, "sites")
    tags = _list(fields.String(validate=TAG_WORD), MAX_TAGS, "tags")
    schedule_ids = _list(
        fields.Integer(strict=True, validate=validate.Range(min=1, max=2**31 - 1)), MAX_SCHEDULES, "schedules"
    )

    @validates_schema
    def something(self, data: dict[str, Any], **_: Any) -> None:
        if not any(data.get(name) for name in MATCH_FIELDS):
            raise ValidationError(NOTHING_MATCHED, "_schema")


class WindowSchema(InputSchema):
    """A window as clients send it; ``partial=True`` for PATCH (``check_span`` then checks the
    changed window as a whole)."""

    class Meta:
        unknown = RAISE

    starts_at = WindowTime(required=True, metadata={"description": "ISO 8601 with offset"})
    ends_at = WindowTime(required=True, metadata={"description": "ISO 8601 with offset, after starts_at"})
    match = fields.Nested(WindowMatchSchema, required=True)
    skip_runs = StrictBoolean(
        load_default=False,
        metadata={"description": "scheduled slots of what it covers are skipped, not launched (false)"},
    )
    reason = fields.String(load_default="", validate=validate.Length(max=MAX_REASON))

    @validates_schema
    def ends_after_start(self, data: dict[str, Any], **_: Any) -> None:
        if "starts_at" in data and "ends_at" in data:
            check_span(data["starts_at"], data["ends_at"])


def check_span(starts_at: datetime, ends_at: datetime) -> None:
    """A window ends after it starts; the error names ``ends_at``."""
    if ends_at <= starts_at:
        raise ValidationError({"ends_at": [f"{ENDS_BEFORE_START} ({starts_at.isoformat()})"]})
