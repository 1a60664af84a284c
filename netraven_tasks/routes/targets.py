"""A route's target: checked for its channel when saved, and masked in every answer.

A URL target (Slack, webhook, Teams) passes the SSRF policy of user webhooks
(``check_webhook_url``; the HTTP helper checks each connection again); a key target (PagerDuty's
routing key, Opsgenie's API key) is a token of safe characters. Answers show a URL cut to its host
and a key's last four characters only: a target is a secret (whoever has it can post there).
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from marshmallow import ValidationError

from netraven_tasks.notifications.channels.registry import channel, channels
from netraven_tasks.notifications.channels.spec import ROUTE_TARGET_KEY, ROUTE_TARGET_URL
from netraven_tasks.notifications.url_safety import UnsafeURL, check_webhook_url

KEY_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{8,128}$")
MASK = "…"


def route_channels() -> list[str]:
    """The channels a route may use, in the registry's order."""
    return [spec.name for spec in channels() if spec.route_target is not None]


def check_target(channel_name: str, target: str, *, allow_private: bool) -> None:
    """Raise ValidationError naming ``target`` when it does not fit the channel (or is unsafe)."""
    spec = channel(channel_name)
    kind = spec.route_target if spec is not None else None
    if kind == ROUTE_TARGET_URL:
        try:
            check_webhook_url(target, allow_private=allow_private)
        except UnsafeURL as error:
            raise ValidationError({"target": [str(error)]}) from None
        except ValueError:  # urlsplit refuses some malformed URLs itself (a broken IPv6 host)
            raise ValidationError({"target": ["is not a valid URL"]}) from None
    elif kind == ROUTE_TARGET_KEY:
        if not KEY_PATTERN.match(target):
            raise ValidationError(
                {"target": [f"{channel_name} takes a key of 8 to 128 letters, digits, '-' or '_'"]}
            )
    else:
        raise ValidationError({"channel": [f"must be one of {', '.join(route_channels())}"]})


def masked_target(channel_name: str, target: str) -> str:
    """What an answer may show of a target: a URL's scheme and host, a key's last four characters."""
    spec = channel(channel_name)
    if spec is not None and spec.route_target == ROUTE_TARGET_URL:
        try:
            parts = urlsplit(target)
            host = parts.hostname
        except ValueError:
            host = None
        return f"{parts.scheme}://{host}/{MASK}" if host else MASK
    return f"{MASK}{target[-4:]}" if len(target) >= 12 else MASK
