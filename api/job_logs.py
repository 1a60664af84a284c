"""``GET /job-logs``, ``/job-logs/active`` and ``/job-logs/{id}``: job runs, newest first, with entries.

A user sees the runs they own and those of their teams (``netraven_tasks.access.policy``); any
other run answers 404 (its existence is not leaked). Admins see every run.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import current_app, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, ValidationError, fields, validate, validates_schema
from werkzeug.sansio.response import Response

from api.context import current_settings, db_session
from api.csv_export import csv_alternative, csv_response, format_field, wants_csv
from api.errors import fail
from api.job_log_queries import (
    JobLogFilter,
    active_filter,
    every_row,
    job_log_with_entries,
    list_page,
    total_of,
)
from api.job_log_rows import COLUMNS, list_rows, with_timings
from api.pagination import PaginatedBlueprint
from api.quotas import count_launch
from api.schemas import UTCDateTime
from api.security import current_caller, current_viewer, errors, may_act_on, protect
from netraven_tasks.access.policy import Action, Resource
from netraven_tasks.db import session_factory
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.jobs.actions import cancel_job, rerun_job
from netraven_tasks.maintenance.suppression import SuppressedItem, suppressed_for_run
from netraven_tasks.models import JobLog, utcnow
from netraven_tasks.statuses import JobStatus
from netraven_tasks.teams.service import rerun_team

blp = protect(
    PaginatedBlueprint("job_logs", __name__, url_prefix="/job-logs", description="Job runs and their history")
)

STATUSES = [status.value for status in JobStatus]


class JobLogSchema(Schema):
    id = fields.Integer(required=True)
    task_id = fields.String(required=True)
    job_type = fields.String(required=True)
    device = fields.String(allow_none=True)
    owner_id = fields.Integer(allow_none=True)
    team_id = fields.Integer(allow_none=True, metadata={"description": "the team it belongs to"})
    owner = fields.Function(lambda job: job.owner.username if job.owner else None, allow_none=True)
    status = fields.String(required=True, validate=validate.OneOf(STATUSES))
    attempts = fields.Integer(required=True)
    args = fields.Dict(allow_none=True)
    queued_at = fields.DateTime(required=True)
    started_at = fields.DateTime(allow_none=True)
    finished_at = fields.DateTime(allow_none=True)
    next_retry_at = fields.DateTime(allow_none=True)
    duration_seconds = fields.Float(allow_none=True)
    result = fields.Dict(allow_none=True)
    error_type = fields.String(allow_none=True)
    error_message = fields.String(allow_none=True)
    worker = fields.String(allow_none=True)
    updated_at = fields.DateTime(required=True)
    rerun_of = fields.Integer(allow_none=True, metadata={"description": "the job log this run repeats"})
    canceled_by = fields.Integer(allow_none=True, metadata={"description": "user who asked to cancel it"})
    schedule_id = fields.Integer(allow_none=True)
    scheduled_for = fields.DateTime(allow_none=True)
    batch_id = fields.Integer(allow_none=True, metadata={"description": "the batch it is one device of"})


class JobLogEntrySchema(Schema):
    id = fields.Integer(required=True)
    at = fields.DateTime(required=True)
    level = fields.String(required=True)
    event = fields.String(required=True)
    message = fields.String(required=True)
    details = fields.Dict(allow_none=True)


class SuppressedSchema(Schema):
    """A message a maintenance window held back instead of sending."""

    id = fields.Integer(required=True)
    window_id = fields.Integer(required=True, metadata={"description": "the maintenance window"})
    reason = fields.String(required=True, metadata={"description": "the window's reason"})
    event = fields.String(required=True, metadata={"description": "failed, recovered, completed, …"})
    user_id = fields.Integer(allow_none=True, metadata={"description": "the recipient (a user)"})
    route_id = fields.Integer(allow_none=True, metadata={"description": "the recipient (a route)"})
    at = fields.DateTime(required=True)


class JobLogDetailSchema(JobLogSchema):
    entries = fields.List(fields.Nested(JobLogEntrySchema), required=True)
    suppressed = fields.List(
        fields.Nested(SuppressedSchema),
        required=True,
        metadata={
            "description": "messages about this run that maintenance windows held back (admins: "
            "all of them; others: those meant for them)"
        },
    )


@dataclass(frozen=True)
class RunDetail:
    """A run as its detail shows it: the row (its fields read through) and what was held back."""

    job: JobLog
    suppressed: list[SuppressedItem]

    def __getattr__(self, name: str) -> Any:
        return getattr(self.job, name)


def _elapsed(job: JobLog) -> float:
    return max(0.0, (utcnow() - job.queued_at).total_seconds())


def _running_for(job: JobLog) -> float | None:
    if job.status != JobStatus.RUNNING or job.started_at is None:
        return None
    return max(0.0, (utcnow() - job.started_at).total_seconds())


class ActiveJobLogSchema(JobLogSchema):
    elapsed_seconds = fields.Function(_elapsed, metadata={"description": "since it was queued"})
    running_seconds = fields.Function(
        _running_for, allow_none=True, metadata={"description": "since the current attempt started"}
    )


class JobLogQuerySchema(InputSchema):
    status = fields.List(
        fields.String(validate=validate.OneOf(STATUSES, error="must be one of: {choices}")),
        metadata={"description": "repeat to ask for several statuses"},
    )
    job_type = fields.String(validate=validate.Length(max=100))
    device = fields.String(validate=validate.Length(max=255))
    owner = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "user id: their runs among those you may see"},
    )
    since = UTCDateTime(metadata={"description": "queued at or after (ISO 8601, UTC if no offset)"})
    until = UTCDateTime(metadata={"description": "queued before"})
    schedule_id = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1), metadata={"description": "runs of this schedule"}
    )
    batch_id = fields.Integer(
        validate=validate.Range(min=1, max=2**63 - 1), metadata={"description": "the runs of this batch"}
    )
    format = format_field()

    @validates_schema
    def since_before_until(self, data: dict[str, Any], **_: Any) -> None:
        since: datetime | None = data.get("since")
        until: datetime | None = data.get("until")
        if since is not None and until is not None and since >= until:
            raise ValidationError("must be later than since", field_name="until")


@blp.route("")
class JobLogs(MethodView):
    @blp.arguments(JobLogQuerySchema, location="query")
    @blp.response(
        200,
        JobLogSchema(many=True),
        headers={
            "X-Total-Estimated": {
                "description": "'true' when X-Pagination's total is an estimate (unfiltered, large)",
                "schema": {"type": "string"},
            }
        },
    )
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401)
    @blp.doc(**csv_alternative({"type": "array", "items": {"$ref": "#/components/schemas/JobLog"}}))
    def get(
        self, query: dict[str, Any], pagination_parameters: PaginationParameters
    ) -> tuple[Response, int, dict[str, str]] | Response:
        """Job runs, newest first, filtered; the X-Pagination header has the total.

        Without any filter and above 100,000 runs the total is PostgreSQL's row estimate (no count
        of every row for each page): the ``X-Total-Estimated: true`` header says so. As CSV
        (``?format=csv`` or ``Accept: text/csv``): every matching run, streamed, no paging."""
        where = JobLogFilter(
            current_viewer(),
            statuses=query.get("status", ()),
            job_type=query.get("job_type"),
            device=query.get("device"),
            owner_id=query.get("owner"),
            since=query.get("since"),
            until=query.get("until"),
            schedule_id=query.get("schedule_id"),
            batch_id=query.get("batch_id"),
        )
        session = db_session()
        pagination_parameters.item_count, estimated = total_of(session, where)
        if wants_csv(query):  # every row, whatever the page; X-Pagination's total says how many
            every = every_row(session_factory(current_settings()), where)
            return csv_response("job-logs.csv", (*COLUMNS, "owner"), every)
        rows = list_page(session, where, pagination_parameters.page, pagination_parameters.page_size)
        headers = {"X-Total-Estimated": "true"} if estimated else {}
        return current_app.json.response(list_rows(rows)), 200, headers


@blp.route("/active")
class ActiveJobLogs(MethodView):
    @blp.response(200, ActiveJobLogSchema(many=True))
    @blp.paginate(page_size=100, max_page_size=500)
    @errors(blp, 401)
    def get(self, pagination_parameters: PaginationParameters) -> Response:
        """Runs not finished yet (queued, running, retrying), longest waiting first."""
        session = db_session()
        where = active_filter(current_viewer())
        pagination_parameters.item_count = total_of(session, where)[0]
        page = pagination_parameters.page, pagination_parameters.page_size
        rows = list_page(session, where, *page, oldest_first=True)
        return current_app.json.response(with_timings(list_rows(rows), rows))


@blp.route("/<int:job_log_id>")
class JobLogDetail(MethodView):
    @blp.response(200, JobLogDetailSchema)
    @errors(blp, 401, 404)
    def get(self, job_log_id: int) -> RunDetail:
        """One job run with its entries (every attempt, transition and error) and the messages
        about it that maintenance windows suppressed."""
        caller = current_caller()
        job = _visible_job(job_log_id)
        held = suppressed_for_run(db_session(), job.id, user_id=None if caller.is_admin else caller.id)
        return RunDetail(job, held)


def _visible_job(job_log_id: int, action: Action = Action.VIEW) -> JobLog:
    """The run if the caller may ``action`` it; 404 when they may not (or may not even see it)."""
    job = job_log_with_entries(db_session(), job_log_id)
    if job is None or not may_act_on(Resource.RUN, job.owner_id, job.team_id, action):
        fail(404, f"no job log {job_log_id}")
    return job


class CancelSchema(Schema):
    job_log_id = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"description": "the status when the cancel was sent"})


@blp.route("/<int:job_log_id>/cancel")
class CancelJobLog(MethodView):
    @blp.response(202, CancelSchema)
    @errors(blp, 401, 404, 409, 503)
    def post(self, job_log_id: int) -> dict[str, Any]:
        """Cancel a queued, running or retrying run (its owner, its team, an admin): revoked, and it
        ends ``canceled``."""
        caller = current_caller()
        job = _visible_job(job_log_id, Action.CANCEL)
        cancel_job(db_session(), job, caller.id, caller.username)
        return {"job_log_id": job.id, "status": job.status}


class RerunSchema(Schema):
    job_log_id = fields.Integer(required=True)
    task_id = fields.String(required=True)
    status = fields.String(required=True)
    rerun_of = fields.Integer(required=True)


@blp.route("/<int:job_log_id>/rerun")
class RerunJobLog(MethodView):
    @blp.response(
        202, RerunSchema, headers={"Location": {"description": "the new run", "schema": {"type": "string"}}}
    )
    @errors(blp, 401, 403, 404, 409, 429, 503)
    def post(self, job_log_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Run a finished job again with the same arguments, owned by the caller (``rerun_of`` kept;
        its team kept when the caller is in it)."""
        caller = current_caller()
        job = _visible_job(job_log_id, Action.RERUN)
        count_launch()
        team_id = rerun_team(current_viewer(), job.team_id)
        launched = rerun_job(current_settings(), job, caller.id, caller.is_admin, team_id)
        body = {**vars(launched), "rerun_of": job.id}
        location = url_for("job_logs.JobLogDetail", job_log_id=launched.job_log_id)
        return body, 202, {"Location": location}
