"""A schedule's timing in words, as people say it: "every 15 minutes", "every day at 02:00".

Cron expressions that are not one of the common shapes below are shown as they are, with their
time zone; the preview of the next runs (``Timing.upcoming``) says the rest.
"""

from __future__ import annotations

from netraven_tasks.schedules.timing import Timing

UNITS = ((86400, "day"), (3600, "hour"), (60, "minute"), (1, "second"))
WEEKDAYS = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")


def duration_words(seconds: int) -> str:
    """``5400`` → ``1 hour 30 minutes``: whole units, largest first."""
    parts = []
    for size, name in UNITS:
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count} {name}{'s' if count != 1 else ''}")
    return " ".join(parts) or "0 seconds"


def _every(seconds: int) -> str:
    for size, name in UNITS:
        if seconds == size:
            return f"every {name}"
    return f"every {duration_words(seconds)}"


def _weekdays(field: str) -> str | None:
    """``1-5`` → ``Monday to Friday``; ``0,6`` → ``Sunday, Saturday``; None for other shapes."""
    if field == "1-5":
        return "Monday to Friday"
    names = []
    for part in field.split(","):
        if not part.isdigit() or int(part) > 7:
            return None
        names.append(WEEKDAYS[int(part) % 7])
    return ", ".join(names)


def _cron_words(cron: str) -> str | None:
    minute, hour, day, month, weekday = cron.split()
    if minute.startswith("*/") and minute[2:].isdigit() and (hour, day, month, weekday) == ("*",) * 4:
        return _every(int(minute[2:]) * 60)
    if not minute.isdigit() or month != "*":
        return None
    if (hour, day, weekday) == ("*", "*", "*"):
        return f"every hour at {int(minute):02d} past"
    if not hour.isdigit():
        return None
    clock = f"{int(hour):02d}:{int(minute):02d}"
    if (day, weekday) == ("*", "*"):
        return f"every day at {clock}"
    if day == "*" and (days := _weekdays(weekday)):
        return f"every {days} at {clock}"
    if weekday == "*" and day.isdigit():
        return f"on day {int(day)} of every month at {clock}"
    return None


def timing_words(timing: Timing) -> str:
    """The timing as a sentence fragment; a cron one names its time zone."""
    if timing.interval_seconds is not None:
        return _every(timing.interval_seconds)
    assert timing.cron is not None
    words = _cron_words(timing.cron) or f"cron {timing.cron}"
    return f"{words} ({timing.timezone})"
