"""Generic webhooks: a JSON POST to the user's ``webhook_url``, signed with HMAC-SHA256.

Headers: ``X-NetRaven-Timestamp`` (Unix seconds), ``X-NetRaven-Signature: sha256=<hex>`` over
``"<timestamp>.<body>"``, and ``X-NetRaven-Delivery`` (stable across retries: dedupe on it).
The key is per user, derived from NETRAVEN_SECRET_KEY (``signing_key``), so a receiver learns
nothing that could forge tokens or another user's deliveries.
"""

from __future__ import annotations

import hashlib
import hmac
import time
from collections.abc import Callable

from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, encode_json, post_json

SIGNATURE_HEADER = "X-NetRaven-Signature"
TIMESTAMP_HEADER = "X-NetRaven-Timestamp"
DELIVERY_HEADER = "X-NetRaven-Delivery"


def signing_key(secret_key: str, user_id: int) -> bytes:
    """The webhook signing key of one user (show it to them; it is not the secret key itself)."""
    return hmac.new(secret_key.encode(), f"netraven-webhook:{user_id}".encode(), hashlib.sha256).digest()


def sign(key: bytes, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()


def verify(key: bytes, timestamp: str, body: bytes, signature: str) -> bool:
    """What a receiver does (in any language): recompute and compare in constant time."""
    return hmac.compare_digest(sign(key, timestamp, body), signature)


class WebhookChannel(Channel):
    name = "webhook"

    def __init__(
        self,
        key_for_user: Callable[[int], bytes],
        *,
        allow_private: bool,
        timeout: float = DEFAULT_TIMEOUT,
    ):
        self.key_for_user = key_for_user
        self.allow_private = allow_private
        self.timeout = timeout

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = encode_json(message.payload or {"subject": message.subject, "text": message.text})
        timestamp = str(int(time.time()))
        if message.user_id is None:
            raise TransportError("a webhook message needs its recipient's user id", permanent=True)
        headers = {
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self.key_for_user(message.user_id), timestamp, body),
            DELIVERY_HEADER: message.message_id,
        }
        status, response_headers, _ = post_json(
            message.address, body, allow_private=self.allow_private, headers=headers, timeout=self.timeout
        )
        provider_id = response_headers.get("X-Request-Id") or f"http:{status}:{message.message_id}"
        return DeliveryResult(provider_message_id=provider_id[:255])
