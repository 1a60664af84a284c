"""Generic webhooks: a JSON POST to the user's ``webhook_url``, signed with HMAC-SHA256.

Headers: ``X-NetRaven-Timestamp`` (Unix seconds), ``X-NetRaven-Signature: sha256=<hex>`` over
``"<timestamp>.<body>"``, and ``X-NetRaven-Delivery`` (stable across retries: dedupe on it).
The key is per user (``signing_key``) or per route (``route_signing_key``), derived from
NETRAVEN_SECRET_KEY, so a receiver learns nothing that could forge tokens or another's deliveries.
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
    ROUTE_TARGET_URL,
    MessageSource,
    UrlChannelSpec,
    url_preference,
)
from netraven_tasks.notifications.rendering import (
    ERROR_LIMIT,
    BatchReport,
    ConfigChange,
    JobSummary,
    batch_link,
    config_diff_link,
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


def route_signing_key(secret_key: str, route_id: int) -> bytes:
    """The webhook signing key of one route (its editors see it; never the secret key itself)."""
    return hmac.new(secret_key.encode(), f"netraven-route:{route_id}".encode(), hashlib.sha256).digest()


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
        key_for_route: Callable[[int], bytes] | None = None,
    ):
        self.key_for_user = key_for_user
        self.key_for_route = key_for_route
        self.allow_private = allow_private
        self.timeout = timeout

    def _key(self, message: OutgoingMessage) -> bytes:
        if message.user_id is not None:
            return self.key_for_user(message.user_id)
        if message.route_id is not None and self.key_for_route is not None:
            return self.key_for_route(message.route_id)
        raise TransportError("a webhook message needs its recipient's user or route id", permanent=True)

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        body = encode_json(message.payload or {"subject": message.subject, "text": message.text})
        timestamp = str(int(time.time()))
        headers = {
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(self._key(message), timestamp, body),
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


def batch_payload(batch: BatchReport, public_url: str) -> dict[str, Any]:
    """The generic webhook body of a finished fleet run: its counts and its failed devices as JSON
    (``failed_devices_omitted`` says how many failed devices did not fit)."""
    return {
        "event": "batch.finished",
        "batch_id": batch.batch_id,
        "job_type": batch.job_type,
        "status": batch.status,
        "total": batch.total,
        "counts": dict(batch.counts),
        "schedule_id": batch.schedule_id,
        "created_at": batch.created_at.isoformat() if batch.created_at else None,
        "finished_at": batch.finished_at.isoformat() if batch.finished_at else None,
        "failed_devices": [
            {
                "device": item.device,
                "error_type": item.error_type,
                "error_message": item.error_line,
                "job_log_id": item.job_log_id,
                "url": job_link(public_url, item.job_log_id),
            }
            for item in batch.failed
        ],
        "failed_devices_omitted": batch.failed_not_listed,
        "slowest_devices": [
            {"device": item.device, "duration_seconds": item.duration_seconds, "job_log_id": item.job_log_id}
            for item in batch.slowest
        ],
        "config_changes": [
            {"device": c.device, "lines_added": c.added, "lines_removed": c.removed, "sha256": c.sha256}
            for c in batch.changes
        ],
        "url": batch_link(public_url, batch.batch_id),
    }


def config_change_payload(change: ConfigChange, public_url: str) -> dict[str, Any]:
    """The generic webhook body of a configuration change: the versions, the counts and the diff
    (normalised, masked, trimmed as in the mail)."""
    return {
        "event": "config.changed",
        "device": change.device,
        "sha256": change.sha256,
        "previous_sha256": change.previous_sha256,
        "lines_added": change.added,
        "lines_removed": change.removed,
        "diff": "".join(change.diff_lines),
        "diff_lines_omitted": change.diff_omitted,
        "created_at": change.created_at.isoformat() if change.created_at else None,
        "launched_by": change.launched_by,
        "job_log_id": change.job_log_id,
        "batch_id": change.batch_id,
        "schedule_id": change.schedule_id,
        "url": config_diff_link(public_url, change.device, change.sha256, change.previous_sha256),
    }


class WebhookSpec(UrlChannelSpec):
    """At once to the user's ``webhook_url``: the JSON body of the job outcome or the alert."""

    name = "webhook"
    title = "Webhook"
    position = 30
    url_field = "webhook_url"
    route_target = ROUTE_TARGET_URL
    preferences = (
        url_preference("webhook_url", "URL that receives a JSON POST per notification, or null for none"),
    )

    def payload(self, source: MessageSource) -> dict[str, Any] | None:
        return source.data

    def transport(self, settings: Settings) -> Channel:
        return WebhookChannel(
            partial(signing_key, settings.secret_key),
            allow_private=settings.allow_private_webhooks,
            key_for_route=partial(route_signing_key, settings.secret_key),
        )


CHANNEL = WebhookSpec()
