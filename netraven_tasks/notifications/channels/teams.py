"""Microsoft Teams incoming webhooks: a route's message is an Adaptive Card (title, facts, link).

The route's target is the channel's webhook URL, checked like any webhook (the SSRF policy) when
the route is saved and again at the socket (``http.post_json``).
"""

from __future__ import annotations

from typing import Any

from netraven_tasks.notifications.channels.base import Channel, DeliveryResult, OutgoingMessage
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, encode_json, post_json
from netraven_tasks.notifications.channels.spec import (
    ROUTE_TARGET_URL,
    RouteNotice,
    RouteOnlySpec,
)
from netraven_tasks.settings import Settings

CARD_CONTENT_TYPE = "application/vnd.microsoft.card.adaptive"
CARD_SCHEMA = "http://adaptivecards.io/schemas/adaptive-card.json"
CARD_VERSION = "1.4"
TEXT_LIMIT = 2_000
COLORS = {"failed": "attention", "still_failing": "attention", "missed": "warning", "recovered": "good"}


def teams_card(notice: RouteNotice) -> dict[str, Any]:
    """A message with one Adaptive Card: the headline, a FactSet and an Action.OpenUrl link.
    Card text is plain TextBlock/FactSet content (values, never markup we build from input)."""
    body: list[dict[str, Any]] = [
        {
            "type": "TextBlock",
            "text": notice.headline[:TEXT_LIMIT],
            "weight": "Bolder",
            "size": "Medium",
            "wrap": True,
            "color": COLORS.get(notice.event, "default"),
        }
    ]
    if notice.facts:
        body.append(
            {
                "type": "FactSet",
                "facts": [{"title": title, "value": value[:TEXT_LIMIT]} for title, value in notice.facts],
            }
        )
    return {
        "type": "message",
        "attachments": [
            {
                "contentType": CARD_CONTENT_TYPE,
                "contentUrl": None,
                "content": {
                    "$schema": CARD_SCHEMA,
                    "type": "AdaptiveCard",
                    "version": CARD_VERSION,
                    "body": body,
                    "actions": [{"type": "Action.OpenUrl", "title": "Open in NetRaven", "url": notice.link}],
                },
            }
        ],
    }


class TeamsChannel(Channel):
    """POSTs the card to the webhook URL through the guarded HTTP helper."""

    name = "teams"

    def __init__(self, *, allow_private: bool, timeout: float = DEFAULT_TIMEOUT):
        self.allow_private = allow_private
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        payload = message.payload or {"type": "message", "text": message.subject}
        status, _, _ = post_json(
            message.address, encode_json(payload), allow_private=self.allow_private, timeout=self.timeout
        )
        return DeliveryResult(provider_message_id=f"teams:{status}:{message.message_id}"[:255])


class TeamsSpec(RouteOnlySpec):
    """Routes only (a shared channel's webhook): no user has a Teams preference."""

    name = "teams"
    position = 62
    route_target = ROUTE_TARGET_URL

    def route_payload(self, notice: RouteNotice) -> dict[str, Any] | None:
        return teams_card(notice)

    def transport(self, settings: Settings) -> Channel:
        return TeamsChannel(allow_private=settings.allow_private_webhooks)


CHANNEL = TeamsSpec()
