"""Marshmallow fields and schemas shared by the API blueprints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields

from netraven_tasks.input_schema import InputSchema

# Two years inside Python's calendar (years 1 to 9999) on each side: every bound computed from a
# date (a period of up to a year or a window of up to 400 days, then a series bucket of up to a
# week around it) stays a datetime Python and the databases can hold, not an OverflowError (500).
EARLIEST = datetime(3, 1, 1, tzinfo=UTC)
LATEST = datetime(9997, 12, 31, 23, 59, 59, 999999, tzinfo=UTC)
OUT_OF_RANGE = f"must be between {EARLIEST:%Y-%m-%d} and {LATEST:%Y-%m-%d}"


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime; without an offset it is UTC. Loads as an aware UTC datetime between
    ``EARLIEST`` and ``LATEST``."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        loaded: datetime = super()._deserialize(value, attr, data, **kwargs)
        try:
            in_utc = loaded.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError(OUT_OF_RANGE) from None
        if not EARLIEST <= in_utc <= LATEST:
            raise ValidationError(OUT_OF_RANGE)
        return in_utc


# What InputSchema refuses, as far as OpenAPI can say it (a pattern cannot name a lone surrogate).
STORABLE_TEXT_PATTERN = "^[^\x00]*$"


def document_storable_text(
    converter: Any, field: fields.Field, ret: dict[str, Any], **_: Any
) -> dict[str, Any]:
    """apispec attribute function: a string of an input schema says it refuses NUL, as a pattern,
    so clients (and the fuzz tests) know it before a 422 tells them."""
    owner = field.parent
    while isinstance(owner, fields.Field):
        owner = owner.parent
    if isinstance(field, fields.String) and isinstance(owner, InputSchema) and "pattern" not in ret:
        return {"pattern": STORABLE_TEXT_PATTERN}
    return {}


class ErrorSchema(Schema):
    code = fields.Integer(metadata={"description": "HTTP status code"})
    status = fields.String(metadata={"description": "HTTP status name"})
    message = fields.String(metadata={"description": "What went wrong and how to fix it"})
    errors = fields.Dict(metadata={"description": "Per-field validation errors"})
