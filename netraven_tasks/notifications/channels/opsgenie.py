"""Opsgenie (Alert API v2): a route's failure creates an alert, its recovery closes it.

The route's target is the API integration's key (``Authorization: GenieKey <key>``); alerts go to
NETRAVEN_OPSGENIE_URL (``https://api.opsgenie.com/v2/alerts``), closes to
``{url}/{alias}/close?identifierType=alias``. The alias is the incident's key, stable per schedule
or per device and job type, so Opsgenie keeps one open alert per incident and the recovery closes
it; "still failing" reminders are not sent. The stored payload says which request it is
(``request``: create or close) and never carries the key.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import quote

from netraven_tasks.notifications.channels.base import Channel, DeliveryResult, OutgoingMessage
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, encode_json, post_to_service
from netraven_tasks.notifications.channels.spec import (
    ROUTE_TARGET_KEY,
    RouteNotice,
    RouteOnlySpec,
)
from netraven_tasks.settings import Settings

MESSAGE_LIMIT = 130
ALIAS_LIMIT = 512
DESCRIPTION_LIMIT = 15_000
DETAIL_LIMIT = 8_000
SOURCE = "NetRaven Tasks"
PRIORITIES = {"critical": "P1", "error": "P2", "warning": "P3", "info": "P5"}
CREATES = frozenset({"failed", "missed"})
CLOSES = frozenset({"recovered"})


def opsgenie_request(notice: RouteNotice) -> dict[str, Any]:
    """``{"request": "create"|"close", "alias", "body"}``: what to POST for ``notice``."""
    incident = notice.incident
    alias = incident.key[:ALIAS_LIMIT]
    if notice.event in CLOSES:
        body: dict[str, Any] = {"source": SOURCE, "note": notice.headline[:DESCRIPTION_LIMIT]}
        return {"request": "close", "alias": alias, "body": body}
    details = {title: value[:DETAIL_LIMIT] for title, value in notice.facts}
    tags = [tag for tag in ("netraven", incident.component, incident.group) if tag]
    body = {
        "message": notice.headline[:MESSAGE_LIMIT],
        "alias": alias,
        "description": f"{notice.source.rendered.text}"[:DESCRIPTION_LIMIT],
        "priority": PRIORITIES.get(incident.severity, "P3"),
        "details": {**details, "link": notice.link},
        "source": SOURCE,
        "tags": tags,
    }
    return {"request": "create", "alias": alias, "body": body}


class OpsgenieChannel(Channel):
    """Creates or closes by alias with the route's API key; Opsgenie answers 202 with a requestId."""

    name = "opsgenie"

    def __init__(self, url: str, timeout: float = DEFAULT_TIMEOUT):
        self.url = url.rstrip("/")
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        planned = message.payload or {}
        url = self.url
        if planned.get("request") == "close":
            url = f"{self.url}/{quote(str(planned.get('alias', '')), safe='')}/close?identifierType=alias"
        headers = {"Authorization": f"GenieKey {message.address}"}
        body = encode_json(planned.get("body") or {})
        response = post_to_service(url, body, service="Opsgenie", headers=headers, timeout=self.timeout)
        try:
            request_id = str(json.loads(response.body).get("requestId") or "")
        except (ValueError, AttributeError):
            request_id = ""
        return DeliveryResult(provider_message_id=(request_id or f"opsgenie:{message.message_id}")[:255])


class OpsgenieSpec(RouteOnlySpec):
    """Routes only: no user has an Opsgenie preference."""

    name = "opsgenie"
    position = 61
    route_target = ROUTE_TARGET_KEY
    route_events = CREATES | CLOSES

    def route_payload(self, notice: RouteNotice) -> dict[str, Any] | None:
        return opsgenie_request(notice)

    def transport(self, settings: Settings) -> Channel:
        return OpsgenieChannel(settings.opsgenie_url)


CHANNEL = OpsgenieSpec()
