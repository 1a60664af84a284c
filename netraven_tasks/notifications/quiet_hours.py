"""Quiet hours: a daily window in the user's time zone during which immediate emails wait.

A message due inside the window is held until the window's end; failures of the job types the
user marks critical are not held.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError


def _clock(text: str) -> time:
    hours, minutes = text.split(":")
    return time(int(hours), int(minutes))


def quiet_until(window: Mapping[str, Any] | None, now: datetime) -> datetime | None:
    """The end of the quiet window ``now`` falls in (aware UTC), or None outside it or without one."""
    if not window:
        return None
    try:
        zone = ZoneInfo(str(window.get("timezone") or "UTC"))
        start, end = _clock(str(window["start"])), _clock(str(window["end"]))
    except (KeyError, ValueError, ZoneInfoNotFoundError):
        return None  # a corrupt stored window must not hold mail forever
    local = now.astimezone(zone)
    for day in (local.date() - timedelta(days=1), local.date()):
        opens = datetime.combine(day, start, zone)
        closes = datetime.combine(day + timedelta(days=1) if end <= start else day, end, zone)
        if opens <= local < closes:
            return closes.astimezone(now.tzinfo)
    return None


def hold_until(
    preferences: Mapping[str, Any], now: datetime, *, job_type: str | None, urgent: bool
) -> datetime | None:
    """When an immediate email may go: None for now, else the end of the quiet window.

    ``urgent`` marks a failure-like event (failed, still failing, missed); it skips the window when
    the job type is one of the user's ``critical_job_types``."""
    critical = preferences.get("critical_job_types") or []
    if urgent and job_type is not None and job_type in critical:
        return None
    return quiet_until(preferences.get("quiet_hours"), now)
