"""Who is told about a job outcome, on which channel, and when: pure functions over preferences.

The job's owner is told; a job without an owner (beat-scheduled) goes to every active admin.
``email_on_job_completion`` covers completed jobs and ``email_on_job_failure`` failed and canceled
ones, on every channel; then each registered channel (``channels/<name>.py``) says whether the
outcome concerns the recipient and where it goes (``ChannelSpec.delivery``):

- email: off when ``email_notifications`` is false; ``notification_frequency`` sends it at once or
  into the hourly or daily digest.
- Slack and generic webhook (``slack_webhook_url``, ``webhook_url``): machine-facing, always at once.
- SMS (``sms_number`` with ``sms_on_job_failure``): short texts for failures, missed runs and
  recoveries only. In-app (``inapp_notifications``): the user's inbox, for what they are told at once.
- Alerts (a missed run, a recovery, a streak still failing) go at once on every channel the user
  has, whatever their digest pace: they are about something that did not happen or changed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from netraven_tasks.notifications.channels.registry import channels
from netraven_tasks.notifications.channels.spec import IMMEDIATE, Delivery, Recipient
from netraven_tasks.preferences import effective_preferences
from netraven_tasks.statuses import JobStatus

__all__ = ["IMMEDIATE", "Delivery", "Recipient"]  # re-exported: they live with the channel spec


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


def _plan(recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool) -> list[Delivery]:
    """Each registered channel's message about ``event``, in the registry's order."""
    planned = (spec.delivery(recipient, prefs, event, alert=alert) for spec in channels())
    return [delivery for delivery in planned if delivery is not None]


def deliveries_for(recipient: Recipient, status: JobStatus | str) -> list[Delivery]:
    """The messages one recipient gets for one job outcome (possibly none)."""
    prefs = effective_preferences(recipient.preferences)
    if not wants_outcome(prefs, status):
        return []
    return _plan(recipient, prefs, str(JobStatus(status)), alert=False)


def alert_deliveries(recipient: Recipient, event: str) -> list[Delivery]:
    """The messages of one alert (missed, recovered, still_failing, a first failure): all at once."""
    if not recipient.active:
        return []
    return _plan(recipient, effective_preferences(recipient.preferences), event, alert=True)


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
