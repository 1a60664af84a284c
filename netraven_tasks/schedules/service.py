"""Creating, changing and describing schedules: one validation for the API and the CLI.

A schedule is validated like a launch (known job type, arguments its schema accepts), plus its
timing: exactly one of ``interval_seconds`` or ``cron``, a known time zone, an interval of at
least NETRAVEN_SCHEDULE_MIN_INTERVAL_SECONDS (60 unless a test lowers it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from marshmallow import RAISE, ValidationError, fields, validate
from sqlalchemy import and_, delete, func, select, update
from sqlalchemy.orm import Session

from netraven_tasks.batches.arguments import batch_argument_errors
from netraven_tasks.devices.schemas import TargetsSchema
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.jobs.registry import all_job_types, get_job_type
from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.preferences import StrictBoolean
from netraven_tasks.schedules.models import AlertStreak, Schedule, WatchState
from netraven_tasks.schedules.timing import Timing, TimingError, check_cron, default_grace_seconds, zone
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import JobStatus

OWNER_DEACTIVATED = "owner deactivated"  # the paused_reason of a deactivated user's schedules
EDITABLE = (
    "job_type",
    "arguments",
    "targets",
    "interval_seconds",
    "cron",
    "timezone",
    "enabled",
    "grace_seconds",
    "description",
    "team_id",
)


class ScheduleBodySchema(InputSchema):
    """The fields a client sends; ``partial=True`` for PATCH. No load defaults, so a PATCH changes
    only what it names; ``load_new`` fills in the defaults of a new schedule."""

    class Meta:
        unknown = RAISE

    job_type = fields.String(required=True, validate=validate.Length(min=1, max=100))
    arguments = fields.Dict(keys=fields.String(), metadata={"description": "the job's arguments ({})"})
    targets = fields.Nested(
        TargetsSchema,
        allow_none=True,
        metadata={"description": "a device selector: each slot launches one batch over it (null: one run)"},
    )
    interval_seconds = fields.Integer(allow_none=True, strict=True, validate=validate.Range(max=366 * 86400))
    cron = fields.String(allow_none=True, validate=validate.Length(max=100))
    timezone = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "of the cron (UTC)"}
    )
    enabled = StrictBoolean(metadata={"description": "false pauses it (true)"})
    grace_seconds = fields.Integer(
        allow_none=True, strict=True, validate=validate.Range(min=1, max=366 * 86400)
    )
    description = fields.String(allow_none=True, validate=validate.Length(max=500))
    team_id = fields.Integer(
        allow_none=True,
        strict=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the team it and its runs belong to (you must be a member; null: none)"},
    )


def timing_of(schedule: Schedule | Mapping[str, Any]) -> Timing:
    get = schedule.get if isinstance(schedule, Mapping) else lambda key: getattr(schedule, key)
    return Timing(get("interval_seconds"), get("cron"), get("timezone") or "UTC")


def timing_errors(values: dict[str, Any], settings: Settings) -> dict[str, list[str]]:
    """The problems of a schedule's timing (``interval_seconds`` or ``cron``, ``timezone``) by
    field; empty when none, and then ``values["cron"]`` is normalised."""
    min_interval = settings.schedule_min_interval_seconds
    problems: dict[str, list[str]] = {}
    interval, cron = values.get("interval_seconds"), values.get("cron")
    if (interval is None) == (cron is None):
        problems["interval_seconds"] = ["give exactly one of interval_seconds or cron"]
    elif interval is not None and interval < min_interval:
        problems["interval_seconds"] = [f"must be at least {min_interval} seconds"]
    elif cron is not None:
        try:
            values["cron"] = check_cron(cron)
        except TimingError as error:
            problems["cron"] = [str(error)]
    try:
        zone(values.get("timezone") or "UTC")
    except TimingError as error:
        problems["timezone"] = [str(error)]
    return problems


def check_schedule(values: dict[str, Any], settings: Settings, owner_is_admin: bool) -> dict[str, Any]:
    """The complete schedule ``values`` checked and normalised; ValidationError names each bad field.

    Its runs are the owner's launches, so the job type's launch roles apply to the owner
    (LaunchForbidden, a 403, when the owner may not launch it with these arguments).
    """
    problems: dict[str, list[str]] = {}
    declared = get_job_type(values["job_type"])
    if declared is None:
        known = ", ".join(job.name for job in all_job_types())
        problems["job_type"] = [f"unknown job type {values['job_type'][:100]!r}; known: {known}"]
    elif values.get("targets"):
        # each device's address and the owner's roles per device are checked at each launch
        problems.update(batch_argument_errors(declared, values.get("arguments") or {}))
    else:
        try:
            values["arguments"] = declared.authorize(values.get("arguments") or {}, owner_is_admin, settings)
        except ValidationError as error:
            problems["arguments"] = error.messages  # type: ignore[assignment]
    problems.update(timing_errors(values, settings))
    if problems:
        raise ValidationError(problems)
    if values.get("grace_seconds") is None:
        values["grace_seconds"] = default_grace_seconds(timing_of(values).typical_period_seconds(utcnow()))
    return values


def load_new(body: Mapping[str, Any], settings: Settings, owner_is_admin: bool) -> dict[str, Any]:
    """A new schedule's values from a request body (raises ValidationError)."""
    loaded: dict[str, Any] = {
        "arguments": {},
        "timezone": "UTC",
        "enabled": True,
        **ScheduleBodySchema().load(body),
    }
    return check_schedule(loaded, settings, owner_is_admin)


def load_changes(
    schedule: Schedule, body: Mapping[str, Any], settings: Settings, owner_is_admin: bool
) -> dict[str, Any]:
    """The schedule's values after the changes in ``body`` (raises ValidationError)."""
    changes: dict[str, Any] = ScheduleBodySchema(partial=True).load(body)
    current = {key: getattr(schedule, key) for key in EDITABLE}
    if "interval_seconds" in changes and changes["interval_seconds"] is not None and "cron" not in changes:
        current["cron"] = None  # switching to an interval drops the cron, and the other way round
    if "cron" in changes and changes["cron"] is not None and "interval_seconds" not in changes:
        current["interval_seconds"] = None
    timing_changed = {"interval_seconds", "cron", "timezone"} & changes.keys()
    if timing_changed and "grace_seconds" not in changes:
        current["grace_seconds"] = None  # recomputed for the new period
    return check_schedule({**current, **changes}, settings, owner_is_admin)


def owner_is_admin(session: Session, schedule: Schedule) -> bool:
    """Whether the schedule's owner is an admin now (the roles its runs are launched with)."""
    return bool(session.scalar(select(User.is_admin).where(User.id == schedule.owner_id)))


def create_schedule(session: Session, owner_id: int, values: dict[str, Any], now: datetime) -> Schedule:
    schedule = Schedule(owner_id=owner_id, **values)
    schedule.next_run_at = schedule.slots_from = timing_of(values).next_slot(now)
    schedule.watch_state = WatchState.OK.value
    session.add(schedule)
    session.flush()
    return schedule


def update_schedule(session: Session, schedule: Schedule, values: dict[str, Any], now: datetime) -> Schedule:
    """Apply checked values; a new timing (or a resume) starts at its next slot from now."""
    old_timing, was_enabled = timing_of(schedule), schedule.enabled
    for key, value in values.items():
        setattr(schedule, key, value)
    if schedule.enabled and not was_enabled:
        schedule.paused_reason = None
    if timing_of(schedule) != old_timing or (schedule.enabled and not was_enabled):
        schedule.next_run_at = schedule.slots_from = timing_of(schedule).next_slot(now)
        schedule.watch_state, schedule.incident_slot = WatchState.OK.value, None
    if not schedule.enabled:
        schedule.watch_state, schedule.incident_slot = WatchState.OK.value, None
    schedule.updated_at = now
    session.flush()
    return schedule


def pause_owner_schedules(session: Session, owner_id: int, reason: str, only: int | None = None) -> int:
    """Pause every enabled schedule of ``owner_id`` (``only``: just that one), saying why; returns
    how many. Schedules loaded in ``session`` see the change."""
    query = update(Schedule).where(Schedule.owner_id == owner_id, Schedule.enabled)
    result = session.execute(
        (query if only is None else query.where(Schedule.id == only)).values(
            enabled=False,
            paused_reason=reason,
            watch_state=WatchState.OK.value,
            incident_slot=None,
            updated_at=utcnow(),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def delete_schedule(session: Session, schedule: Schedule) -> None:
    """Delete the schedule; its runs stay, without schedule_id (SQLite has no ON DELETE for it)."""
    session.execute(
        update(JobLog)
        .where(JobLog.schedule_id == schedule.id)
        .values(schedule_id=None)
        .execution_options(synchronize_session=False)
    )
    session.execute(delete(AlertStreak).where(AlertStreak.scope == schedule_scope(schedule.id)))
    session.delete(schedule)
    session.flush()


@dataclass(frozen=True)
class LastRun:
    job_log_id: int
    status: str
    at: datetime


def last_runs(session: Session, schedule_ids: Sequence[int]) -> dict[int, LastRun]:
    """The latest run of each schedule (by slot)."""
    if not schedule_ids:
        return {}
    newest = (
        select(JobLog.schedule_id, func.max(JobLog.scheduled_for).label("slot"))
        .where(JobLog.schedule_id.in_(list(schedule_ids)))
        .group_by(JobLog.schedule_id)
        .subquery()
    )
    latest = select(JobLog.schedule_id, JobLog.id, JobLog.status, JobLog.queued_at).join(
        newest, and_(JobLog.schedule_id == newest.c.schedule_id, JobLog.scheduled_for == newest.c.slot)
    )
    return {row[0] or 0: LastRun(row[1], row[2], row[3]) for row in session.execute(latest)}


def schedule_scope(schedule_id: int) -> str:
    """The alert scope of a schedule's runs (see ``alerts``)."""
    return f"schedule:{schedule_id}"


def state_of(schedule: Schedule, failing: bool) -> str:
    if not schedule.enabled:
        return "paused"
    if schedule.watch_state != WatchState.OK.value:
        return schedule.watch_state
    return "failing" if failing else "ok"


def describe(session: Session, schedules: Sequence[Schedule]) -> list[dict[str, Any]]:
    """What the API answers for each schedule: its fields, its last run and its state."""
    runs = last_runs(session, [s.id for s in schedules])
    scopes = [schedule_scope(s.id) for s in schedules]
    failing = set(
        session.scalars(
            select(AlertStreak.scope).where(
                AlertStreak.scope.in_(scopes), AlertStreak.status == JobStatus.FAILED.value
            )
        )
    )
    described = []
    for schedule in schedules:
        last = runs.get(schedule.id)
        described.append(
            {
                "id": schedule.id,
                "owner_id": schedule.owner_id,
                **{key: getattr(schedule, key) for key in EDITABLE},
                "next_run_at": schedule.next_run_at if schedule.enabled else None,
                "last_run_at": last.at if last else None,
                "last_job_log_id": last.job_log_id if last else None,
                "last_status": last.status if last else None,
                "state": state_of(schedule, schedule_scope(schedule.id) in failing),
                "paused_reason": schedule.paused_reason,
                "created_at": schedule.created_at,
                "updated_at": schedule.updated_at,
            }
        )
    return described
