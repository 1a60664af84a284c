"""Who is told about a job outcome, on which channel, and when: pure functions over preferences.

The job's owner is told; a job without an owner (beat-scheduled) goes to every active admin.
Each recipient's preferences then pick the channels and the pace:

- email: off when ``email_notifications`` is false; ``email_on_job_completion`` covers completed
  jobs, ``email_on_job_failure`` covers failed and canceled ones; ``notification_frequency`` sends
  it at once or into the hourly or daily digest.
- Slack and generic webhook (``slack_webhook_url``, ``webhook_url``): machine-facing, always at once,
  filtered by the same completion/failure flags.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netraven_tasks.preferences import FREQUENCIES, effective_preferences
from netraven_tasks.statuses import JobStatus

IMMEDIATE = "immediate"


@dataclass(frozen=True)
class Recipient:
    user_id: int
    username: str
    email: str
    is_admin: bool
    active: bool
    preferences: Mapping[str, Any]


@dataclass(frozen=True)
class Delivery:
    """One message to plan: to whom, on which channel, at which address, now or in a digest."""

    user_id: int
    channel: str  # email | slack | webhook
    address: str
    frequency: str  # immediate | hourly | daily


def recipients_for(owner: Recipient | None, admins: Iterable[Recipient]) -> list[Recipient]:
    """The owner if the job has one (and it is active), else every active admin."""
    if owner is not None:
        return [owner] if owner.active else []
    return sorted((a for a in admins if a.active and a.is_admin), key=lambda r: r.user_id)


def wants_outcome(preferences: Mapping[str, Any], status: JobStatus | str) -> bool:
    """Whether the completion/failure flags let this outcome through."""
    status = JobStatus(status)
    if status is JobStatus.COMPLETED:
        return bool(preferences.get("email_on_job_completion", True))
    if status in (JobStatus.FAILED, JobStatus.CANCELED):
        return bool(preferences.get("email_on_job_failure", True))
    return False  # queued, running, retrying: nothing is said before the final outcome


def deliveries_for(recipient: Recipient, status: JobStatus | str) -> list[Delivery]:
    """The messages one recipient gets for one job outcome (possibly none)."""
    prefs = effective_preferences(recipient.preferences)
    if not wants_outcome(prefs, status):
        return []
    plan: list[Delivery] = []
    if prefs.get("email_notifications", True) and recipient.email:
        frequency = prefs.get("notification_frequency", IMMEDIATE)
        if frequency not in FREQUENCIES:
            frequency = IMMEDIATE  # a corrupt value must not swallow the mail
        plan.append(Delivery(recipient.user_id, "email", recipient.email, frequency))
    for channel, field in (("slack", "slack_webhook_url"), ("webhook", "webhook_url")):
        url = prefs.get(field)
        if isinstance(url, str) and url:
            plan.append(Delivery(recipient.user_id, channel, url, IMMEDIATE))
    return plan


def plan_deliveries(
    owner: Recipient | None, admins: Iterable[Recipient], status: JobStatus | str
) -> list[Delivery]:
    """Every message for one job outcome: recipients first, then each one's preferences."""
    if not JobStatus(status).is_terminal:
        return []
    return [d for r in recipients_for(owner, admins) for d in deliveries_for(r, status)]
