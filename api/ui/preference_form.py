"""The notification preferences as a form people can read: sections, plain labels, real controls.

The API keeps its field names; this module only says how each field is shown. Sections come in
a fixed order: when you are told, quiet hours, then one section per channel in the registry's
order (a new channel gets its section, with generated labels, without UI work). A field this
module does not describe is shown by its type (a switch, a choice, a line of text, or JSON).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from zoneinfo import available_timezones

from marshmallow import fields, validate

from netraven_tasks.jobs.registry import all_job_types
from netraven_tasks.notifications.channels.registry import channels
from netraven_tasks.notifications.test_messages import testable_channels, title_of
from netraven_tasks.preferences import PreferencesSchema

# name -> (label, help); help may be empty
LABELS: dict[str, tuple[str, str]] = {
    "notify_on": ("Which outcomes", ""),
    "email_on_job_completion": ("Tell me when a job completes", "on every channel below"),
    "email_on_job_failure": ("Tell me when a job fails or is canceled", "on every channel below"),
    "notify_on_config_change": (
        "Tell me when a device's configuration changes",
        "with the lines that changed, for devices you may see",
    ),
    "config_changes_in_batches": ("Configuration changes in a fleet run", ""),
    "quiet_hours": ("Hold email during quiet hours", "other channels are never held"),
    "critical_job_types": (
        "Critical job types",
        "their failures are sent at once, even during quiet hours",
    ),
    "email_notifications": ("Send me email", "off: no mail at all, not even alerts"),
    "notification_frequency": ("How often", ""),
    "slack_webhook_url": ("Slack incoming-webhook URL", "empty: no Slack messages"),
    "webhook_url": ("Webhook URL", "we POST a JSON body here; empty: none"),
    "sms_number": ("Mobile number", "international format, e.g. +4915112345678; empty: none"),
    "sms_on_job_failure": ("Text me about failures, missed runs and recoveries", ""),
    "inapp_notifications": ("Keep what I am told in my dashboard inbox", ""),
}
# field -> value -> (label, what it means); "" stands for null
CHOICES: dict[str, list[tuple[str, str, str]]] = {
    "notify_on": [
        ("", "Recommended", "changes for scheduled runs, every outcome for the jobs you launch"),
        ("every_outcome", "Every outcome", "one message per finished job"),
        ("state_changes", "Only changes", "the first failure, a reminder while it lasts, the recovery"),
    ],
    "notification_frequency": [
        ("immediate", "Immediately", "one mail per notification"),
        ("hourly", "Hourly digest", "one mail an hour with everything; alerts still come at once"),
        ("daily", "Daily digest", "one mail a day with everything; alerts still come at once"),
    ],
    "config_changes_in_batches": [
        ("summary", "In the run's summary", "one mail for the whole fleet run"),
        ("each", "One message per device too", "besides the summary"),
    ],
}
GENERAL = (
    "notify_on",
    "email_on_job_completion",
    "email_on_job_failure",
    "notify_on_config_change",
    "config_changes_in_batches",
)
QUIET = ("quiet_hours", "critical_job_types")
ZONES = sorted(available_timezones())


@dataclass
class FormField:
    name: str
    label: str
    kind: str  # checkbox | radio | text | quiet_hours | multi | json
    value: Any
    help: str = ""
    nullable: bool = False
    choices: list[tuple[str, str, str]] = field(default_factory=list)  # (value, label, meaning)


@dataclass
class Section:
    key: str
    title: str
    fields: list[FormField]
    test_channel: str | None = None  # the channel a "Send a test" button tries


def _one_of(marshmallow_field: fields.Field) -> list[str]:
    validators = marshmallow_field.validators
    for validator in validators if isinstance(validators, list) else [validators]:
        if isinstance(validator, validate.OneOf):
            return [str(choice) for choice in validator.choices]
    return []


def _kind(name: str, marshmallow_field: fields.Field) -> str:
    if name == "quiet_hours":
        return "quiet_hours"
    if name == "critical_job_types":
        return "multi"
    if isinstance(marshmallow_field, fields.Boolean):
        return "checkbox"
    if name in CHOICES or _one_of(marshmallow_field):
        return "radio"
    if isinstance(marshmallow_field, fields.String):
        return "text"
    return "json"  # a list or object of a channel this module does not know: edited as JSON


def _field(name: str, marshmallow_field: fields.Field, values: dict[str, Any]) -> FormField:
    # A field described here says what it wants; another shows its API description.
    described = marshmallow_field.metadata.get("description", "")
    label, help_text = LABELS.get(name, (name.replace("_", " ").capitalize(), described))
    kind = _kind(name, marshmallow_field)
    choices = CHOICES.get(name) or [(choice, choice, "") for choice in _one_of(marshmallow_field)]
    if name == "critical_job_types":
        choices = [(t.name, t.name, t.description or "") for t in all_job_types()]
    return FormField(
        name=name,
        label=label,
        kind=kind,
        value=values.get(name),
        help=help_text,
        nullable=bool(marshmallow_field.allow_none),
        choices=choices if kind in ("radio", "multi") else [],
    )


def preference_sections(values: dict[str, Any]) -> list[Section]:
    """The form's sections with every preference field exactly once."""
    schema_fields = PreferencesSchema().fields
    by_name = {name: _field(name, f, values) for name, f in schema_fields.items()}
    testable = {spec.name for spec in testable_channels()}
    sections = [
        Section("general", "When you are told", [by_name.pop(n) for n in GENERAL if n in by_name]),
        Section("quiet", "Quiet hours", [by_name.pop(n) for n in QUIET if n in by_name]),
    ]
    for spec in channels():
        own = [by_name.pop(p.name) for p in spec.preferences if p.name in by_name]
        if own:
            test = spec.name if spec.name in testable else None
            sections.append(Section(spec.name, title_of(spec), own, test_channel=test))
    if by_name:  # a field of no channel and not listed above
        sections.append(Section("other", "Other", list(by_name.values())))
    return sections
