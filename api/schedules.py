"""``GET|POST /schedules`` and ``GET|PATCH|DELETE /schedules/{id}``: job runs launched by beat.

The owner is the creator; non-admins see and change only their own schedules (another's answers
404), admins all. The body's fields are checked by ``ScheduleBodySchema``, then like a launch
(the job type's own arguments) and its timing (``netraven_tasks.schedules.service``).
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields
from sqlalchemy import func, select

from api.context import current_settings, db_session
from api.errors import fail
from api.pagination import PaginatedBlueprint, requested_window
from api.security import current_caller, errors, may_see_owner, protect
from netraven_tasks.models import utcnow
from netraven_tasks.quotas import ensure_schedule_quota
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.schedules.service import (
    ScheduleBodySchema,
    create_schedule,
    delete_schedule,
    describe,
    load_changes,
    load_new,
    owner_is_admin,
    update_schedule,
)

blp = protect(
    PaginatedBlueprint("schedules", __name__, url_prefix="/schedules", description="Scheduled job runs")
)

MAX_ID = 2**31 - 1
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
    job_type = fields.String(required=True)
    arguments = fields.Dict(required=True)
    targets = fields.Dict(allow_none=True, metadata={"description": "a device selector: one batch per slot"})
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


def _own_schedule(schedule_id: int) -> Schedule:
    schedule = db_session().get(Schedule, schedule_id) if 0 < schedule_id <= MAX_ID else None
    if schedule is None or not may_see_owner(current_caller(), schedule.owner_id):
        fail(404, f"no schedule {schedule_id}")
    return schedule


@blp.route("")
class Schedules(MethodView):
    @blp.response(200, ScheduleSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401)
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """Your schedules (an admin: everyone's), oldest first, each with its last run and state;
        paginated like /job-logs (the X-Pagination header has the total)."""
        caller = current_caller()
        query = select(Schedule).order_by(Schedule.id)
        if not caller.is_admin:
            query = query.where(Schedule.owner_id == caller.id)
        session = db_session()
        pagination_parameters.item_count = session.scalar(
            select(func.count()).select_from(query.order_by(None).subquery())
        )
        window = requested_window(pagination_parameters)
        if window is None:
            return []
        limit, offset = window
        return describe(session, list(session.scalars(query.limit(limit).offset(offset))))

    @blp.arguments(ScheduleBodySchema, example=EXAMPLE)
    @blp.response(201, ScheduleSchema, headers={"Location": {"schema": {"type": "string"}}})
    @errors(blp, 401, 403, 422, 429)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a schedule owned by you: exactly one of interval_seconds or cron (+ timezone).
        A non-admin has at most NETRAVEN_MAX_SCHEDULES_PER_USER (429 beyond)."""
        caller = current_caller()
        values = load_new(body, current_settings(), caller.is_admin)
        session = db_session()
        ensure_schedule_quota(session, caller.id, caller.is_admin, current_settings())
        schedule = create_schedule(session, caller.id, values, utcnow())
        session.commit()
        location = url_for("schedules.ScheduleDetail", schedule_id=schedule.id)
        return describe(session, [schedule])[0], 201, {"Location": location}


@blp.route("/<int:schedule_id>")
class ScheduleDetail(MethodView):
    @blp.response(200, ScheduleSchema)
    @errors(blp, 401, 404)
    def get(self, schedule_id: int) -> dict[str, Any]:
        """One schedule with its next and last run and its state."""
        return describe(db_session(), [_own_schedule(schedule_id)])[0]

    @blp.arguments(ScheduleChangesSchema(partial=True))
    @blp.response(200, ScheduleSchema)
    @errors(blp, 401, 403, 404, 422)
    def patch(self, body: dict[str, Any], schedule_id: int) -> dict[str, Any]:
        """Change the fields given; beat uses the change from its next tick on."""
        schedule = _own_schedule(schedule_id)
        values = load_changes(schedule, body, current_settings(), owner_is_admin(db_session(), schedule))
        session = db_session()
        update_schedule(session, schedule, values, utcnow())
        session.commit()
        return describe(session, [schedule])[0]

    @blp.response(204)
    @errors(blp, 401, 404)
    def delete(self, schedule_id: int) -> None:
        """Delete the schedule; its past runs stay (without schedule_id)."""
        session = db_session()
        delete_schedule(session, _own_schedule(schedule_id))
        session.commit()
