"""PagerDuty (Events API v2): a route's failure triggers an incident, its recovery resolves it.

The route's target is the integration's routing key; the body goes to NETRAVEN_PAGERDUTY_URL
(``https://events.pagerduty.com/v2/enqueue``). The ``dedup_key`` is the incident's key, stable per
schedule or per device and job type, so "still failing" reminders are not sent (they would add
nothing to the open incident) and the recovery resolves what the failure opened. The routing key
is added at send time: the stored payload (the route's delivery history) does not carry it.
"""

from __future__ import annotations

from typing import Any

from netraven_tasks.notifications.channels.base import Channel, DeliveryResult, OutgoingMessage
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, encode_json, post_to_service
from netraven_tasks.notifications.channels.spec import (
    ROUTE_TARGET_KEY,
    RouteNotice,
    RouteOnlySpec,
)
from netraven_tasks.settings import Settings

SUMMARY_LIMIT = 1024  # PagerDuty cuts a longer summary
KEY_LIMIT = 255  # dedup_key's longest
CLIENT = "NetRaven Tasks"
# What opens an incident and what resolves it; other events are no incident.
TRIGGERS = frozenset({"failed", "missed"})
RESOLVES = frozenset({"recovered"})


def pagerduty_event(notice: RouteNotice, public_url: str) -> dict[str, Any]:
    """The Events API v2 body of ``notice`` without its ``routing_key``: trigger or resolve."""
    incident = notice.incident
    if notice.event in RESOLVES:
        return {"event_action": "resolve", "dedup_key": incident.key[:KEY_LIMIT]}
    details = notice.source.data or {}
    return {
        "event_action": "trigger",
        "dedup_key": incident.key[:KEY_LIMIT],
        "payload": {
            "summary": notice.headline[:SUMMARY_LIMIT],
            "source": incident.source,
            "severity": incident.severity,
            "component": incident.component,
            "group": incident.group,
            "class": notice.event,
            "custom_details": details,
        },
        "links": [{"href": notice.link, "text": "Open in NetRaven"}],
        "client": CLIENT,
        "client_url": public_url,
    }


class PagerDutyChannel(Channel):
    """POSTs the event with the route's routing key; PagerDuty answers 202 with its dedup_key."""

    name = "pagerduty"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT):
        self.url = url
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = {**(message.payload or {}), "routing_key": message.address}
        response = post_to_service(self.url, encode_json(body), service="PagerDuty", timeout=self.timeout)
        provider_id = f"pagerduty:{response.status}:{body.get('dedup_key', '')}"
        return DeliveryResult(provider_message_id=provider_id[:255])


class PagerDutySpec(RouteOnlySpec):
    """Routes only: no user has a PagerDuty preference."""

    name = "pagerduty"
    position = 60
    route_target = ROUTE_TARGET_KEY
    route_events = TRIGGERS | RESOLVES

    def route_payload(self, notice: RouteNotice) -> dict[str, Any] | None:
        return pagerduty_event(notice, notice.source.public_url)

    def transport(self, settings: Settings) -> Channel:
        return PagerDutyChannel(settings.pagerduty_url)


CHANNEL = PagerDutySpec()
