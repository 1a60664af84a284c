"""Slack incoming webhooks: the user's ``slack_webhook_url`` gets one JSON message per job outcome."""

from __future__ import annotations

from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, encode_json, post_json


class SlackChannel(Channel):
    """POSTs the prepared payload; Slack answers ``ok`` (200) or an error word (4xx: permanent)."""

    name = "slack"

    def __init__(self, *, allow_private: bool, timeout: float = DEFAULT_TIMEOUT):
        self.allow_private = allow_private
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        payload = message.payload or {"text": message.subject}
        status, _, text = post_json(
            message.address, encode_json(payload), allow_private=self.allow_private, timeout=self.timeout
        )
        if text.strip() not in {"", "ok"}:
            # Old-style Slack hooks may answer 200 with an error word.
            raise TransportError(f"Slack answered {status} {text.strip()[:200]}", permanent=True)
        return DeliveryResult(provider_message_id=f"slack:{status}:{message.message_id}"[:255])
