"""Who is told about a job outcome, on which channel, and when: pure functions over preferences.

The job's owner is told; a job without an owner (beat-scheduled) goes to every active admin.
Each recipient's preferences then pick the channels and the pace:

- email: off when ``email_notifications`` is false; ``email_on_job_completion`` covers completed
  jobs, ``email_on_job_failure`` covers failed and canceled ones; ``notification_frequency`` sends
  it at once or into the hourly or daily digest.
- Slack and generic webhook (``slack_webhook_url``, ``webhook_url``): machine-facing, always at once,
  filtered by the same completion/failure flags.
- SMS (``sms_number`` with ``sms_on_job_failure``): short texts for failures, missed runs and
  recoveries only. In-app (``inapp_notifications``): the user's inbox, for what they are told at once.
- Alerts (a missed run, a recovery, a streak still failing) go at once on every channel the user
  has, whatever their digest pace: they are about something that did not happen or changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from netraven_tasks.preferences import FREQUENCIES, effective_preferences
from netraven_tasks.statuses import JobStatus

IMMEDIATE = "immediate"
SMS_EVENTS = frozenset({"failed", "missed", "recovered"})  # short texts for these only


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
    return plan + _immediate_channels(recipient, prefs, str(JobStatus(status)))


def _immediate_channels(recipient: Recipient, prefs: Mapping[str, Any], event: str) -> list[Delivery]:
    """Slack, webhook, SMS and in-app: each at once when the user set it up (and it concerns them)."""
    plan: list[Delivery] = []
    for channel, field in (("slack", "slack_webhook_url"), ("webhook", "webhook_url")):
        url = prefs.get(field)
        if isinstance(url, str) and url:
            plan.append(Delivery(recipient.user_id, channel, url, IMMEDIATE))
    number = prefs.get("sms_number")
    if event in SMS_EVENTS and prefs.get("sms_on_job_failure") and isinstance(number, str) and number:
        plan.append(Delivery(recipient.user_id, "sms", number, IMMEDIATE))
    if prefs.get("inapp_notifications"):
        plan.append(Delivery(recipient.user_id, "inapp", str(recipient.user_id), IMMEDIATE))
    return plan


def alert_deliveries(recipient: Recipient, event: str) -> list[Delivery]:
    """The messages of one alert (missed, recovered, still_failing, a first failure): all at once."""
    if not recipient.active:
        return []
    prefs = effective_preferences(recipient.preferences)
    plan: list[Delivery] = []
    if prefs.get("email_notifications", True) and prefs.get("email_on_job_failure", True) and recipient.email:
        plan.append(Delivery(recipient.user_id, "email", recipient.email, IMMEDIATE))
    return plan + _immediate_channels(recipient, prefs, event)


def notify_on(preferences: Mapping[str, Any], scheduled: bool) -> str:
    """``every_outcome`` or ``state_changes``; unset means state changes for scheduled runs only."""
    chosen = effective_preferences(preferences).get("notify_on")
    if chosen in ("every_outcome", "state_changes"):
        return str(chosen)
    return "state_changes" if scheduled else "every_outcome"


def plan_deliveries(
    owner: Recipient | None, admins: Iterable[Recipient], status: JobStatus | str
) -> list[Delivery]:
    """Every message for one job outcome: recipients first, then each one's preferences."""
    if not JobStatus(status).is_terminal:
        return []
    return [d for r in recipients_for(owner, admins) for d in deliveries_for(r, status)]
