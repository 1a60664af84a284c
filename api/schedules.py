"""``GET|POST /schedules`` and ``GET|PATCH|DELETE /schedules/{id}``: job runs launched by beat.

The owner is the creator; a user sees and changes their own schedules and their teams' (only the
owner, the team's managers and admins delete one; ``netraven_tasks.access.policy``); any other
answers 404. Admins see all. The body's fields are checked by ``ScheduleBodySchema``, then like a launch
(the job type's own arguments) and its timing (``netraven_tasks.schedules.service``).
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, validate

from api.context import current_settings, db_session
from api.errors import fail, fail_invalid
from api.pagination import PaginatedBlueprint, requested_window
from api.security import current_caller, current_viewer, errors, may_act_on, protect
from netraven_tasks.access.policy import Action, Resource, who_may
from netraven_tasks.devices.schemas import TargetsSchema
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.models import utcnow
from netraven_tasks.quotas import ensure_schedule_quota
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.schedules.queries import schedule_page, visible_schedule
from netraven_tasks.schedules.service import (
    ScheduleBodySchema,
    create_schedule,
    delete_schedule,
    describe,
    load_changes,
    load_new,
    owner_is_admin,
    timing_errors,
    timing_of,
    update_schedule,
)
from netraven_tasks.schedules.timing import zone
from netraven_tasks.schedules.wording import timing_words
from netraven_tasks.teams.service import launch_team

blp = protect(
    PaginatedBlueprint("schedules", __name__, url_prefix="/schedules", description="Scheduled job runs")
)

PREVIEW_RUNS = 5
EXAMPLE = {
    "job_type": "config_backup",
    "arguments": {"host": "10.0.0.1"},
    "cron": "0 2 * * *",
    "timezone": "Europe/Berlin",
    "description": "nightly backup of the core router",
}


class ScheduleChangesSchema(ScheduleBodySchema):
    """PATCH: any subset of the schedule's fields."""


class ScheduleSchema(Schema):
    id = fields.Integer(required=True)
    owner_id = fields.Integer(required=True)
    team_id = fields.Integer(allow_none=True, metadata={"description": "the team it belongs to"})
    job_type = fields.String(required=True)
    arguments = fields.Dict(required=True)
    targets = fields.Nested(
        TargetsSchema, allow_none=True, metadata={"description": "a device selector: one batch per slot"}
    )
    interval_seconds = fields.Integer(allow_none=True)
    cron = fields.String(allow_none=True)
    timezone = fields.String(required=True)
    enabled = fields.Boolean(required=True)
    grace_seconds = fields.Integer(required=True)
    description = fields.String(allow_none=True)
    next_run_at = fields.DateTime(allow_none=True, metadata={"description": "null while paused"})
    last_run_at = fields.DateTime(allow_none=True)
    last_job_log_id = fields.Integer(allow_none=True)
    last_status = fields.String(allow_none=True)
    state = fields.String(required=True, metadata={"description": "ok, late, missed, failing or paused"})
    paused_reason = fields.String(
        allow_none=True,
        metadata={"description": "why the system paused it (owner deactivated); null otherwise"},
    )
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class TimingQuerySchema(InputSchema):
    """A timing to preview: ``interval_seconds`` or ``cron`` (one of them), and the time zone."""

    interval_seconds = fields.Integer(validate=validate.Range(min=1, max=366 * 86400))
    cron = fields.String(validate=validate.Length(max=100), metadata={"description": "e.g. 0 2 * * *"})
    timezone = fields.String(
        load_default="UTC", validate=validate.Length(min=1, max=64), metadata={"description": "of the cron"}
    )


class PreviewRunSchema(Schema):
    at = fields.DateTime(required=True, metadata={"description": "UTC"})
    local = fields.String(required=True, metadata={"description": "the same instant in the timezone"})


class TimingPreviewSchema(Schema):
    description = fields.String(required=True, metadata={"description": "the timing in words"})
    timezone = fields.String(required=True)
    runs = fields.List(fields.Nested(PreviewRunSchema), required=True)


def _schedule(schedule_id: int, action: Action = Action.VIEW) -> Schedule:
    """The schedule if the caller may ``action`` it: 404 when they may not see it, 403 when they
    see it but the policy keeps the action from them."""
    viewer = current_viewer()
    schedule = visible_schedule(db_session(), schedule_id, viewer)
    if schedule is None:
        fail(404, f"no schedule {schedule_id}")
    if not may_act_on(Resource.SCHEDULE, schedule.owner_id, schedule.team_id, action):
        fail(403, f"only {who_may(Resource.SCHEDULE, action)} may {action.value} schedule {schedule_id}")
    return schedule


@blp.route("")
class Schedules(MethodView):
    @blp.response(200, ScheduleSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401)
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """Your schedules and your teams' (an admin: everyone's), oldest first, each with its last
        run and state; paginated like /job-logs (the X-Pagination header has the total)."""
        window = requested_window(pagination_parameters) or (0, 0)
        session = db_session()
        rows, pagination_parameters.item_count = schedule_page(session, current_viewer(), *window)
        return describe(session, rows)

    @blp.arguments(ScheduleBodySchema, example=EXAMPLE)
    @blp.response(201, ScheduleSchema, headers={"Location": {"schema": {"type": "string"}}})
    @errors(blp, 401, 403, 422, 429)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a schedule owned by you: exactly one of interval_seconds or cron (+ timezone).
        A non-admin has at most NETRAVEN_MAX_SCHEDULES_PER_USER (429 beyond)."""
        caller = current_caller()
        session = db_session()
        launch_team(session, current_viewer(), body.get("team_id"))
        values = load_new(body, current_settings(), caller.is_admin)
        ensure_schedule_quota(session, caller.id, caller.is_admin, current_settings())
        schedule = create_schedule(session, caller.id, values, utcnow())
        session.commit()
        location = url_for("schedules.ScheduleDetail", schedule_id=schedule.id)
        return describe(session, [schedule])[0], 201, {"Location": location}


@blp.route("/preview")
class SchedulePreview(MethodView):
    @blp.arguments(TimingQuerySchema, location="query")
    @blp.response(200, TimingPreviewSchema)
    @errors(blp, 401, 422)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The next five runs of a timing from now, as beat will launch them, with the timing in
        words; a bad cron, interval or time zone is a 422 naming the field (as creating one is)."""
        values = {"interval_seconds": None, "cron": None, **query}
        problems = timing_errors(values, current_settings())
        if problems:
            fail_invalid(problems, location="query")
        timing = timing_of(values)
        local = zone(timing.timezone)
        upcoming = timing.upcoming(utcnow(), PREVIEW_RUNS)
        runs = [{"at": at, "local": at.astimezone(local).isoformat()} for at in upcoming]
        return {"description": timing_words(timing), "timezone": timing.timezone, "runs": runs}


@blp.route("/<int:schedule_id>")
class ScheduleDetail(MethodView):
    @blp.response(200, ScheduleSchema)
    @errors(blp, 401, 404)
    def get(self, schedule_id: int) -> dict[str, Any]:
        """One schedule with its next and last run and its state."""
        return describe(db_session(), [_schedule(schedule_id)])[0]

    @blp.arguments(ScheduleChangesSchema(partial=True))
    @blp.response(200, ScheduleSchema)
    @errors(blp, 401, 403, 404, 422)
    def patch(self, body: dict[str, Any], schedule_id: int) -> dict[str, Any]:
        """Change the fields given (``enabled: false`` pauses it); beat uses the change from its
        next tick on. A new ``team_id`` must be a team you are in."""
        schedule = _schedule(schedule_id, Action.EDIT)
        if body.get("team_id") not in (None, schedule.team_id):
            launch_team(db_session(), current_viewer(), body["team_id"])
        values = load_changes(schedule, body, current_settings(), owner_is_admin(db_session(), schedule))
        session = db_session()
        update_schedule(session, schedule, values, utcnow())
        session.commit()
        return describe(session, [schedule])[0]

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, schedule_id: int) -> None:
        """Delete the schedule (its owner, its team's managers, admins); its past runs stay
        (without schedule_id)."""
        session = db_session()
        delete_schedule(session, _schedule(schedule_id, Action.DELETE))
        session.commit()
