"""A notification channel as one unit: ``ChannelSpec`` is everything the rest of the code asks of it.

A channel module (``channels/<name>.py``) declares ``CHANNEL = SomeSpec()``: its preference fields
(with their API validation and defaults), whether an event concerns a user and where to send it,
the parts of its message and payload, and its transport built from the settings. The registry
(``channels.registry``) finds every such module; preferences, their API schema, recipients,
planning and delivery are derived from it. This module imports no channel and no database model,
so the preferences module can build itself from the registry at import time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from marshmallow import fields

if TYPE_CHECKING:
    from netraven_tasks.notifications.channels.base import Channel
    from netraven_tasks.notifications.rendering import BatchReport, JobSummary, RenderedMessage
    from netraven_tasks.settings import Settings

IMMEDIATE = "immediate"
CONFIG_CHANGED = "config_changed"  # the event of a device's configuration change (not a job outcome)


@dataclass(frozen=True)
class Recipient:
    user_id: int
    username: str
    email: str
    is_admin: bool
    active: bool
    preferences: Mapping[str, Any]


@dataclass(frozen=True)
class Delivery:
    """One message to plan: to whom, on which channel, at which address, now or in a digest."""

    user_id: int
    channel: str  # a registered channel's name: email | slack | webhook | sms | inapp
    address: str
    frequency: str  # immediate | hourly | daily


class StrictBoolean(fields.Boolean):
    """Only JSON ``true``/``false``: ``"yes"``, ``1`` or ``"true"`` are wrong types, not booleans."""

    default_error_messages = {"invalid": "must be true or false"}

    def _deserialize(
        self, value: Any, attr: str | None, data: Mapping[str, Any] | None, **kwargs: Any
    ) -> bool:
        if not isinstance(value, bool):
            raise self.make_error("invalid")
        return value


@dataclass(frozen=True)
class Preference:
    """One preference field: how PUT/PATCH take it (``field``), how GET shows it (``stored``), its
    default (what a user who never set it has), and whether it is a URL the SSRF guard checks."""

    name: str
    field: Callable[[], fields.Field]
    stored: Callable[[], fields.Field]
    default: Any
    checked_url: bool = False


@dataclass(frozen=True)
class MessageSource:
    """What one message is made of: the rendered text, the generic JSON body (a job's details, a
    batch's or an alert's), and the job or batch it is about (Slack shows their details)."""

    rendered: RenderedMessage
    data: dict[str, Any] | None
    job: JobSummary | None = None
    public_url: str = ""
    batch: BatchReport | None = None


@dataclass(frozen=True)
class Incident:
    """The incident an event belongs to, as on-call services track it: ``key`` is stable per scope
    (``netraven:schedule:{id}`` or ``netraven:device:{device}:{job_type}``), so the recovery
    resolves what the first failure opened."""

    key: str
    severity: str  # critical | error | warning | info: the job type's criticality
    source: str  # where it happens: the device, or the schedule
    component: str | None = None  # the job type
    group: str | None = None  # the device's site


@dataclass(frozen=True)
class RouteNotice:
    """What a route is told of one event: the event, the message parts, a title with its facts
    and link (cards), and the incident it opens, reminds of or resolves."""

    event: str  # failed | still_failing | recovered | missed | config_changed | batch_finished
    source: MessageSource
    headline: str
    link: str
    incident: Incident
    facts: tuple[tuple[str, str], ...] = ()


ROUTE_TARGET_URL = "url"  # a webhook URL, checked like a user's (SSRF policy) when saved and at the socket
ROUTE_TARGET_KEY = "key"  # a routing or API key sent to the operator's configured service URL


class ChannelSpec:
    """The declaration of one channel; override what differs from these defaults."""

    name: ClassVar[str]
    title: ClassVar[str] = ""  # how people call it ("Email", "SMS"); empty: the name, capitalised
    position: ClassVar[int] = 100  # where it comes in a recipient's plan (email first)
    preferences: ClassVar[tuple[Preference, ...]] = ()
    held_in_quiet_hours: ClassVar[bool] = False  # only email waits for the end of quiet hours
    # Routes: what a route's ``target`` is on this channel (None: routes cannot use it), and the
    # route events it carries (None: all of them).
    route_target: ClassVar[str | None] = None
    route_events: ClassVar[frozenset[str] | None] = None

    def delivery(
        self, recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool
    ) -> Delivery | None:
        """The message this channel sends ``recipient`` about ``event`` (a job's final status, or an
        alert's event when ``alert``), or None when the user has not set it up or it does not
        concern them. ``prefs`` are the effective preferences; the outcome flags were applied."""
        raise NotImplementedError

    def test_delivery(self, recipient: Recipient, prefs: Mapping[str, Any]) -> Delivery | None:
        """Where a test of this channel goes: its first-failure alert with this channel's own
        on/off switches on (a test checks the address and the transport, not the switches);
        None when the user has not set the channel up (no URL, no number)."""
        switched_on = {p.name: True for p in self.preferences if isinstance(p.default, bool)}
        return self.delivery(recipient, {**prefs, **switched_on}, "failed", alert=True)

    def at_once(self, recipient: Recipient, address: str) -> Delivery:
        return Delivery(recipient.user_id, self.name, address, IMMEDIATE)

    def text(self, rendered: RenderedMessage) -> str:
        return rendered.text

    def html(self, rendered: RenderedMessage) -> str | None:
        return None

    def payload(self, source: MessageSource) -> dict[str, Any] | None:
        return None

    def transport(self, settings: Settings) -> Channel | None:
        """The sender of this channel's messages, or None when the settings do not configure it."""
        raise NotImplementedError

    def message_values(self, delivery: Delivery, source: MessageSource) -> dict[str, Any]:
        """The channel-specific columns of the outbox row of ``delivery``."""
        return {
            "user_id": delivery.user_id,
            "channel": delivery.channel,
            "address": delivery.address,
            "subject": source.rendered.subject,
            "body_text": self.text(source.rendered),
            "body_html": self.html(source.rendered),
            "payload": self.payload(source),
        }

    def route_concerns(self, event: str) -> bool:
        """Whether a route on this channel is told of ``event`` (a reminder, a recovery, …)."""
        return self.route_events is None or event in self.route_events

    def route_payload(self, notice: RouteNotice) -> dict[str, Any] | None:
        """The body a route on this channel gets (secrets such as a routing key are added at send)."""
        return self.payload(notice.source)

    def route_message_values(self, route_id: int, target: str, notice: RouteNotice) -> dict[str, Any]:
        """The channel-specific columns of a route's outbox row (no personal recipient)."""
        rendered = notice.source.rendered
        return {
            "user_id": None,
            "route_id": route_id,
            "channel": self.name,
            "address": target,
            "subject": rendered.subject,
            "body_text": self.text(rendered),
            "body_html": self.html(rendered),
            "payload": self.route_payload(notice),
        }


def url_preference(name: str, description: str) -> Preference:
    """A URL a user sets to receive machine-readable messages (null: none), checked by the SSRF guard."""
    from marshmallow import validate

    return Preference(
        name,
        field=lambda: fields.String(
            allow_none=True,
            load_default=None,
            validate=[
                validate.Length(max=2048),
                validate.Regexp(r"^[^\x00]*$", error="must not contain NUL"),
            ],
            metadata={"description": description},
        ),
        stored=lambda: fields.String(allow_none=True, required=True),
        default=None,
        checked_url=True,
    )


def flag_preference(name: str, default: bool = False) -> Preference:
    """An optional on/off preference (``true``/``false`` only)."""
    return Preference(
        name, field=lambda: StrictBoolean(load_default=default), stored=fields.Boolean, default=default
    )


class RouteOnlySpec(ChannelSpec):
    """A channel of routes only (a shared destination): no person has it among their preferences."""

    def delivery(
        self, recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool
    ) -> Delivery | None:
        return None


class UrlChannelSpec(ChannelSpec):
    """A machine-facing channel: at once to the URL in the user's ``url_field`` preference, if set."""

    url_field: ClassVar[str]

    def delivery(
        self, recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool
    ) -> Delivery | None:
        url = prefs.get(self.url_field)
        return self.at_once(recipient, url) if isinstance(url, str) and url else None
