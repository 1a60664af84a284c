"""A job type's arguments as form controls, generated from its marshmallow schema.

The launch form and the schedule form both show arguments through ``argument_fields``: one place
decides that an Integer is a number box with the Range's bounds, a OneOf a menu, a list of
strings one value per line, and so on. The device argument is left out: the target picker
(one device, or a fleet selector) sets it. Whether the caller may launch a type at all comes
from its launch roles (``launch_offer``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from marshmallow import fields, missing, validate

from netraven_tasks.jobs.launch_roles import role_of, roles_allowed
from netraven_tasks.jobs.registry import JobType
from netraven_tasks.settings import Settings

TEXT_LIMIT = 2048  # the longest text a control takes when the schema sets no Length


@dataclass(frozen=True)
class ArgumentField:
    """One argument as the form shows it; ``value`` is what the control holds (text for a
    ``lines`` or ``json`` control), the default for a new form."""

    name: str
    label: str
    kind: str  # text | number | checkbox | select | lines | json
    required: bool
    value: Any
    help: str = ""
    choices: list[str] = field(default_factory=list)
    minimum: float | None = None
    maximum: float | None = None
    step: str = "any"  # "1" for whole numbers
    max_length: int = TEXT_LIMIT


@dataclass(frozen=True)
class LaunchOffer:
    """Whether the caller may launch a job type; ``note`` says when that depends on the arguments."""

    offered: bool
    note: str = ""


def _validators(schema_field: fields.Field) -> list[Any]:
    found = schema_field.validators
    return list(found) if isinstance(found, list | tuple) else [found]


def _default(schema_field: fields.Field) -> Any:
    default = schema_field.load_default
    if default is missing:
        return None
    return default() if callable(default) else default


def _kind(schema_field: fields.Field) -> str:
    if isinstance(schema_field, fields.Boolean):
        return "checkbox"
    if isinstance(schema_field, fields.Number):
        return "number"
    if any(isinstance(rule, validate.OneOf) for rule in _validators(schema_field)):
        return "select"
    if isinstance(schema_field, fields.String):
        return "text"
    if isinstance(schema_field, fields.List) and isinstance(schema_field.inner, fields.String):
        return "lines"
    return "json"  # Nested, Dict, lists of other things: edited as JSON


def _shown(kind: str, value: Any) -> Any:
    """The control's content for ``value`` (a default, or a schedule's stored argument)."""
    if kind == "lines":
        return "\n".join(str(item) for item in value or [])
    if kind == "json":
        return "" if value is None else json.dumps(value, indent=1)
    return value


def _help(schema_field: fields.Field, kind: str, default: Any) -> str:
    parts = [str(schema_field.metadata.get("description") or "")]
    if kind == "lines":
        parts.append("one per line")
    if kind == "json":
        parts.append("JSON")
    if default not in (None, "", [], {}) and kind != "checkbox":
        parts.append(f"default {json.dumps(default) if kind == 'json' else default}")
    return "; ".join(part for part in parts if part)


def argument_field(name: str, schema_field: fields.Field, value: Any = missing) -> ArgumentField:
    """The control of one argument, holding ``value`` (a stored argument) or else its default."""
    kind = _kind(schema_field)
    default = _default(schema_field)
    rules = _validators(schema_field)
    ranges = [rule for rule in rules if isinstance(rule, validate.Range)]
    lengths = [rule.max for rule in rules if isinstance(rule, validate.Length) and rule.max is not None]
    choices = [str(choice) for rule in rules if isinstance(rule, validate.OneOf) for choice in rule.choices]
    return ArgumentField(
        name=name,
        label=name.replace("_", " ").capitalize(),
        kind=kind,
        required=bool(schema_field.required),
        value=_shown(kind, default if value is missing else value),
        help=_help(schema_field, kind, default),
        choices=choices,
        minimum=ranges[0].min if ranges else None,
        maximum=ranges[0].max if ranges else None,
        step="1" if isinstance(schema_field, fields.Integer) else "any",
        max_length=min(lengths) if lengths else TEXT_LIMIT,
    )


def argument_fields(declared: JobType, values: Mapping[str, Any] | None = None) -> list[ArgumentField]:
    """The controls of every argument but the device argument, in the schema's order, holding
    ``values`` where given (a schedule being edited) and the defaults elsewhere."""
    given = values or {}
    return [
        argument_field(name, schema_field, given.get(name, missing))
        for name, schema_field in declared.arguments().fields.items()
        if name != declared.device_arg
    ]


def device_argument(declared: JobType) -> ArgumentField | None:
    """The device argument's control (the target picker's one-device box), if the type has one."""
    if declared.device_arg is None:
        return None
    schema_field = declared.arguments().fields.get(declared.device_arg)
    return argument_field(declared.device_arg, schema_field) if schema_field is not None else None


def default_arguments(declared: JobType) -> dict[str, Any]:
    """The arguments a launch gets when the caller sets none but the required ones."""
    schema_fields = declared.arguments().fields.items()
    return {name: _default(schema_field) for name, schema_field in schema_fields if not schema_field.required}


def launch_offer(declared: JobType, is_admin: bool, settings: Settings) -> LaunchOffer:
    """Whether the form is offered to the caller. Launch roles that depend on the arguments (a
    function, as ``config_backup``'s per driver) are decided for the default arguments, and the
    note says so; the API decides again for the arguments actually sent."""
    if declared.tracked:  # another Celery app's task (netraven_tasks.track): that app launches it
        return LaunchOffer(False, f"launched by its own Celery app ({declared.tracked_task})")
    roles = declared.launch_roles
    allowed = roles_allowed(roles, default_arguments(declared), settings)
    note = ""
    if callable(roles):
        who = " or ".join(sorted(f"{role}s" for role in allowed)) or "nobody"
        note = f"depends on the arguments; with the defaults: {who}"
    return LaunchOffer(role_of(is_admin) in allowed, note)
