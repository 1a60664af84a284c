"""What a device and a device selector may hold: the platforms, the name, address and tag rules.

The API, the CLI import and (later) batches and schedules load devices and selectors through these
schemas, so a value refused in one place is refused everywhere, with the same message.
"""

from __future__ import annotations

import ipaddress
from typing import Any

from marshmallow import RAISE, ValidationError, fields, validate, validates_schema

from netraven_tasks.devices.models import NAME_LENGTH, SITE_LENGTH, TAG_LENGTH
from netraven_tasks.devices.platforms import DEFAULT_PLATFORM, PLATFORMS
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.notifications.channels.spec import StrictBoolean

MAX_TAGS = 32
MAX_SELECTED_NAMES = 10_000
# A selector's filters (AND-ed). A selector is names (``devices``) or filters, never both, never empty.
SELECTOR_FILTERS = ("site", "platform", "tags")

_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
KNOWN_PLATFORM = validate.OneOf(PLATFORMS, error=f"must be one of {', '.join(PLATFORMS)}")
HOSTNAME_RULE = "letters, digits, '-' and '_' in dot-separated labels of at most 63, no '-' at a label's ends"


class FullMatch(validate.Regexp):
    """A pattern the whole value must match: ``$`` alone lets a trailing newline through. The
    OpenAPI document shows it as the field's ``pattern``, so clients (and fuzzers) know the rule."""

    def __call__(self, value: Any) -> Any:
        if self.regex.fullmatch(value) is None:
            raise ValidationError(self._format_error(value))
        return value


HOSTNAME = FullMatch(rf"^{_LABEL}(?:\.{_LABEL})*$", error=f"must be a host name: {HOSTNAME_RULE}")
NAME_RULES = [validate.Length(min=1, max=NAME_LENGTH), HOSTNAME]


def validate_address(value: str) -> None:
    """A host name or an IP literal (IPv6 with or without brackets); nothing that names a path."""
    literal = value[1:-1] if value.startswith("[") and value.endswith("]") else value
    try:
        ipaddress.ip_address(literal)
        return
    except ValueError:
        pass
    try:
        if len(value) <= NAME_LENGTH:
            HOSTNAME(value)
            return
    except ValidationError:
        pass
    raise ValidationError(f"must be a host name or an IP address ({HOSTNAME_RULE}); no URL, path or port")


def validate_word(limit: int) -> list[validate.Validator]:
    """Sites and tags: a letter or digit, then letters, digits and ``_ . : -``, at most ``limit``."""
    return [
        validate.Length(min=1, max=limit),
        FullMatch(
            r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$", error="must be a letter or digit, then letters, digits, _ . : -"
        ),
    ]


SITE_WORD, TAG_WORD = validate_word(SITE_LENGTH), validate_word(TAG_LENGTH)


def _tags_field() -> fields.List:
    return fields.List(
        fields.String(validate=TAG_WORD),
        validate=validate.Length(max=MAX_TAGS, error=f"at most {MAX_TAGS} tags"),
        metadata={"description": "labels for selectors, e.g. core, edge, pop:fra"},
    )


class DeviceSchema(InputSchema):
    """A device as clients send it; ``partial=True`` for PATCH. No load defaults: a PATCH changes only
    what it names, ``with_defaults`` completes a new device."""

    class Meta:
        unknown = RAISE

    name = fields.String(required=True, validate=NAME_RULES, metadata={"description": "unique host name"})
    address = fields.String(
        validate=validate_address, metadata={"description": "host name or IP the jobs connect to (the name)"}
    )
    platform = fields.String(
        validate=KNOWN_PLATFORM,
        metadata={"description": f"one of {', '.join(PLATFORMS)} ({DEFAULT_PLATFORM})"},
    )
    site = fields.String(allow_none=True, validate=SITE_WORD)
    tags = _tags_field()
    enabled = StrictBoolean(metadata={"description": "false leaves it out of every selection (true)"})


def with_defaults(values: dict[str, Any]) -> dict[str, Any]:
    """A new device's complete values: the address is the name, the platform generic, no site or tag."""
    return {
        "address": values["name"],
        "platform": DEFAULT_PLATFORM,
        "site": None,
        "tags": [],
        "enabled": True,
        **values,
    }


class TargetsSchema(InputSchema):
    """A device selector: ``devices`` (names), or any of ``site``, ``platform``, ``tags`` (AND-ed,
    every tag required). Disabled devices are never selected."""

    class Meta:
        unknown = RAISE

    devices = fields.List(
        fields.String(validate=NAME_RULES),
        validate=validate.Length(min=1, max=MAX_SELECTED_NAMES),
        metadata={"description": "device names"},
    )
    site = fields.String(validate=SITE_WORD)
    platform = fields.String(validate=KNOWN_PLATFORM)
    tags = fields.List(
        fields.String(validate=TAG_WORD),
        validate=validate.Length(min=1, max=MAX_TAGS),
        metadata={"description": "every one of these tags"},
    )

    @validates_schema
    def names_or_filters(self, data: dict[str, Any], **_: Any) -> None:
        filters = set(SELECTOR_FILTERS) & data.keys()
        if "devices" in data and filters:
            raise ValidationError(
                f"give devices or filters, not both ({', '.join(sorted(filters))})", "devices"
            )
        if "devices" not in data and not filters:
            raise ValidationError("give devices, or any of site, platform, tags", "_schema")
