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
from functools import partial
from typing import Any

from netraven_tasks.notifications.channels.base import (
    Channel,
    DeliveryResult,
    OutgoingMessage,
    TransportError,
)
from netraven_tasks.notifications.channels.http import DEFAULT_TIMEOUT, encode_json, post_json
from netraven_tasks.notifications.channels.spec import (
    MessageSource,
    UrlChannelSpec,
    url_preference,
)
from netraven_tasks.notifications.rendering import (
    ERROR_LIMIT,
    JobSummary,
    job_link,
    result_text,
    truncate,
)
from netraven_tasks.settings import Settings

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


def webhook_payload(job: JobSummary, public_url: str) -> dict[str, Any]:
    """The generic webhook body: the job's details as JSON, results and errors truncated."""
    return {
        "event": f"job.{job.status}",
        "job_log_id": job.job_log_id,
        "job_type": job.job_type,
        "device": job.device,
        "status": job.status,
        "attempts": job.attempts,
        "queued_at": job.queued_at.isoformat() if job.queued_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
        "duration_seconds": job.duration_seconds,
        "result": result_text(job.result) or None,
        "error_type": job.error_type,
        "error_message": truncate(job.error_message, ERROR_LIMIT) or None,
        "url": job_link(public_url, job.job_log_id),
    }


class WebhookSpec(UrlChannelSpec):
    """At once to the user's ``webhook_url``: the JSON body of the job outcome or the alert."""

    name = "webhook"
    position = 30
    url_field = "webhook_url"
    preferences = (
        url_preference("webhook_url", "URL that receives a JSON POST per notification, or null for none"),
    )

    def payload(self, source: MessageSource) -> dict[str, Any] | None:
        return source.data

    def transport(self, settings: Settings) -> Channel:
        return WebhookChannel(
            partial(signing_key, settings.secret_key), allow_private=settings.allow_private_webhooks
        )


CHANNEL = WebhookSpec()
