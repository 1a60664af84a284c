"""State-change alerts: a streak of failures is told once, folded while it lasts, and ends with
"recovered".

Per scope (a schedule, or owner + job type + device for unscheduled runs): the first failure after
a success alerts ``failed``; more failures are folded into one ``still_failing`` at most every
NETRAVEN_REPEAT_ALERT_HOURS; the first success after failures alerts ``recovered``. ``decide`` is
the rule (pure); ``advance_streak`` applies it to the scope's row once per job run.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.db import insert
from netraven_tasks.models import JobLog
from netraven_tasks.schedules.models import AlertStreak
from netraven_tasks.statuses import JobStatus

FAILED, STILL_FAILING, RECOVERED = "failed", "still_failing", "recovered"


@dataclass(frozen=True)
class Streak:
    status: str  # the last outcome that counts: completed or failed
    failing_since: datetime | None = None
    failures: int = 0
    last_alert_at: datetime | None = None


def decide(
    previous: Streak | None, status: str, at: datetime, repeat_after: timedelta
) -> tuple[str | None, Streak]:
    """The alert (or None) for an outcome after ``previous``, and the streak after it."""
    if status == JobStatus.FAILED:
        if previous is None or previous.status != JobStatus.FAILED:
            return FAILED, Streak(JobStatus.FAILED.value, failing_since=at, failures=1, last_alert_at=at)
        folded = replace(previous, failures=previous.failures + 1)
        if previous.last_alert_at is None or at - previous.last_alert_at >= repeat_after:
            return STILL_FAILING, replace(folded, last_alert_at=at)
        return None, folded
    if status == JobStatus.COMPLETED:
        recovered = previous is not None and previous.status == JobStatus.FAILED
        return (RECOVERED if recovered else None), Streak(JobStatus.COMPLETED.value)
    return None, previous or Streak(JobStatus.COMPLETED.value)  # canceled: neither fails nor recovers


def scope_of(job: JobLog) -> str:
    if job.schedule_id is not None:
        return f"schedule:{job.schedule_id}"
    return f"job:{job.owner_id or 0}:{job.job_type}:{job.device or ''}"[:400]


@dataclass(frozen=True)
class StreakChange:
    alert: str | None
    streak: Streak
    applied_before: bool  # this run was counted already (the notify task ran twice)


def advance_streak(session: Session, job: JobLog, repeat_after: timedelta) -> StreakChange:
    """Count ``job`` in its scope's streak (once) and say which alert it raises; inside a transaction."""
    scope = scope_of(job)
    session.execute(
        insert(session, AlertStreak).values(scope=scope, status="none", failures=0).on_conflict_do_nothing()
    )
    row = session.scalars(select(AlertStreak).where(AlertStreak.scope == scope).with_for_update()).one()
    previous = (
        None
        if row.status == "none"
        else Streak(row.status, row.failing_since, row.failures, row.last_alert_at)
    )
    if row.last_job_log_id == job.id:
        return StreakChange(None, previous or Streak(JobStatus.COMPLETED.value), applied_before=True)
    at = job.finished_at or job.updated_at
    alert, streak = decide(previous, job.status, at, repeat_after)
    row.status, row.failing_since, row.failures = streak.status, streak.failing_since, streak.failures
    row.last_alert_at, row.last_job_log_id = streak.last_alert_at, job.id
    return StreakChange(alert, streak, applied_before=False)
