"""Slack incoming webhooks: the user's ``slack_webhook_url`` gets one JSON message per job outcome,
finished fleet run or alert."""

from __future__ import annotations

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
    BatchReport,
    JobSummary,
    batch_context,
    batch_subject,
    job_context,
    job_subject,
    truncate,
)
from netraven_tasks.settings import Settings


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


def _slack_escape(text: str) -> str:
    # Slack's mrkdwn: only these three are special; user data must not form links or mentions.
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack_payload(job: JobSummary, public_url: str) -> dict[str, Any]:
    """An incoming-webhook body: one line of text plus a section with the details."""
    context = job_context(job, public_url)
    icon = ":white_check_mark:" if context["succeeded"] else ":x:"
    title = _slack_escape(job_subject(job))
    lines = [
        f"{icon} *{title}*",
        f"Attempts: {job.attempts} · Duration: {context['duration']}",
    ]
    if job.error_type or job.error_message:
        error = truncate(f"{job.error_type or 'Error'}: {job.error_message or ''}", 500)
        fenced = _slack_escape(error).replace("```", "'''")  # user text cannot close the code block
        lines.append(f"```{fenced}```")
    lines.append(f"<{context['link']}|Open job {job.job_log_id}>")
    return {
        "text": title,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


SLACK_FAILED_SHOWN = 10


def slack_batch_payload(batch: BatchReport, public_url: str) -> dict[str, Any]:
    """A finished fleet run: its subject line, then the first failed devices with their errors."""
    context = batch_context(batch, public_url, SLACK_FAILED_SHOWN)
    icon = ":white_check_mark:" if context["succeeded"] else ":x:"
    title = _slack_escape(batch_subject(batch))
    lines = [f"{icon} *{title}*"]
    for item in context["failed"]:
        error = truncate(f"{item['error_type']}: {item['error_line']}", 200)
        quoted = _slack_escape(error).replace("`", "'")  # user text cannot close the code span
        lines.append(f"• {_slack_escape(item['device'])}: `{quoted}`")
    if context["failed_more"] > 0:
        lines.append(f"… and {context['failed_more']} more")
    lines.append(f"<{context['link']}|Open batch {batch.batch_id}>")
    return {
        "text": title,
        "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": "\n".join(lines)}}],
    }


class SlackSpec(UrlChannelSpec):
    """At once to the user's ``slack_webhook_url``, for every outcome and alert they are told of."""

    name = "slack"
    title = "Slack"
    position = 20
    url_field = "slack_webhook_url"
    route_target = ROUTE_TARGET_URL
    preferences = (url_preference("slack_webhook_url", "Slack incoming-webhook URL, or null for none"),)

    def payload(self, source: MessageSource) -> dict[str, Any] | None:
        if source.job is not None:
            return slack_payload(source.job, source.public_url)
        if source.batch is not None:
            return slack_batch_payload(source.batch, source.public_url)
        return {"text": _slack_escape(source.rendered.subject)}  # an alert: its subject line

    def transport(self, settings: Settings) -> Channel:
        return SlackChannel(allow_private=settings.allow_private_webhooks)


CHANNEL = SlackSpec()
