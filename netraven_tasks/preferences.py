"""Notification preferences: the fields, their defaults, and validation shared by API and notifier."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

FREQUENCIES = ("immediate", "hourly", "daily")

DEFAULT_PREFERENCES: dict[str, Any] = {
    "email_notifications": True,
    "email_on_job_completion": True,
    "email_on_job_failure": True,
    "notification_frequency": "immediate",
    # Optional extra channels (issue: notifications); None means the channel is off.
    "slack_webhook_url": None,
    "webhook_url": None,
}


def effective_preferences(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    """The stored preferences over the defaults (a user created before a field existed gets its default)."""
    merged = dict(DEFAULT_PREFERENCES)
    merged.update(stored or {})
    return merged
