"""Marshmallow fields and schemas shared by the API blueprints."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from marshmallow import Schema, ValidationError, fields, validate

# psycopg2 refuses NUL in text and PostgreSQL in JSONB: reject it as a client error instead.
NO_NUL = validate.Regexp(r"^[^\x00]*$", error="must not contain NUL characters")


class Text(fields.String):
    """A string without NUL characters (storable in every database)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        given = kwargs.pop("validate", None)
        validators = list(given) if isinstance(given, list | tuple) else [given] if given else []
        super().__init__(*args, validate=[NO_NUL, *validators], **kwargs)


class UTCDateTime(fields.AwareDateTime):
    """An ISO 8601 datetime; without an offset it is UTC. Loads as an aware UTC datetime."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(default_timezone=UTC, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> datetime:
        loaded: datetime = super()._deserialize(value, attr, data, **kwargs)
        try:
            return loaded.astimezone(UTC)
        except (OverflowError, ValueError):
            raise ValidationError("is out of range") from None


class ErrorSchema(Schema):
    code = fields.Integer(metadata={"description": "HTTP status code"})
    status = fields.String(metadata={"description": "HTTP status name"})
    message = fields.String(metadata={"description": "What went wrong and how to fix it"})
    errors = fields.Dict(metadata={"description": "Per-field validation errors"})
