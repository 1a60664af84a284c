"""``GET /jobs`` (job types and their retry policy) and ``POST /jobs/{job_type}/runs`` (launch one)."""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from marshmallow import INCLUDE, Schema, fields, validate

from api.context import current_settings, db_session
from api.json_body import Blueprint
from api.quotas import count_launch
from api.security import current_caller, current_viewer, errors, protect
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.jobs.registry import JobType, all_job_types, get_job_type
from netraven_tasks.teams.service import launch_team

blp = protect(Blueprint("jobs", __name__, url_prefix="/jobs", description="Job types and launching runs"))


class RetryPolicySchema(Schema):
    max_attempts = fields.Integer()
    backoff_base = fields.Float()
    backoff_factor = fields.Float()
    backoff_max = fields.Float()
    jitter = fields.Float()
    retry_on = fields.List(fields.String())


class JobArgumentSchema(Schema):
    name = fields.String()
    type = fields.String()
    required = fields.Boolean()
    description = fields.String(allow_none=True)


class JobTypeSchema(Schema):
    name = fields.String()
    description = fields.String()
    device_argument = fields.String(allow_none=True)
    time_limit_seconds = fields.Float(allow_none=True)
    retry_policy = fields.Nested(RetryPolicySchema)
    arguments = fields.List(fields.Nested(JobArgumentSchema))
    tracked_task = fields.String(
        allow_none=True,
        metadata={
            "description": "another Celery app's task that runs it: tracked, launched by that app only"
        },
    )


class JobArgumentsSchema(InputSchema):
    """The job's arguments, one JSON object; each job type's own schema checks them."""

    class Meta:
        unknown = INCLUDE


class LaunchQuerySchema(InputSchema):
    """What a launch takes besides the job's arguments (the body is those arguments alone)."""

    team_id = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the team the run belongs to (you must be a member): its members see it"},
    )


class LaunchedJobSchema(Schema):
    job_log_id = fields.Integer(required=True)
    task_id = fields.String(required=True)
    status = fields.String(required=True)


def describe_job_type(declared: JobType) -> dict[str, Any]:
    arguments = [
        {
            "name": name,
            "type": type(field).__name__,
            "required": field.required,
            "description": field.metadata.get("description"),
        }
        for name, field in declared.arguments().fields.items()
    ]
    return {
        "name": declared.name,
        "description": declared.description,
        "device_argument": declared.device_arg,
        "time_limit_seconds": declared.time_limit,
        "retry_policy": declared.policy.describe(),
        "arguments": arguments,
        "tracked_task": declared.tracked_task,
    }


@blp.route("")
class JobTypes(MethodView):
    @blp.response(200, JobTypeSchema(many=True))
    @errors(blp, 401)
    def get(self) -> list[dict[str, Any]]:
        """The job types, with their arguments and retry policy; those with a ``tracked_task`` are
        another Celery app's tasks, which that app launches and NetRaven only tracks."""
        return [describe_job_type(declared) for declared in all_job_types()]


@blp.route("/<string:job_type>/runs")
class JobRuns(MethodView):
    @blp.arguments(LaunchQuerySchema, location="query")
    @blp.arguments(JobArgumentsSchema, example={"host": "10.0.0.1", "port": 22})
    @blp.response(
        202,
        LaunchedJobSchema,
        headers={"Location": {"description": "the job log", "schema": {"type": "string"}}},
    )
    @errors(blp, 401, 403, 404, 422, 429, 503)
    def post(
        self, query: dict[str, Any], arguments: dict[str, Any], job_type: str
    ) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Launch a run of a job type, owned by the caller (``?team_id=``: and seen by that team);
        follow the Location header to watch it."""
        caller = current_caller()
        team_id = launch_team(db_session(), current_viewer(), query.get("team_id"))
        count_launch()
        declared = get_job_type(job_type)
        if declared is not None:  # security: who may launch it, with these arguments
            declared.authorize(arguments, caller.is_admin, current_settings())
        launched = launch_job(current_settings(), job_type, arguments, caller.id, team_id=team_id)
        location = url_for("job_logs.JobLogDetail", job_log_id=launched.job_log_id)
        body = {"job_log_id": launched.job_log_id, "task_id": launched.task_id, "status": launched.status}
        return body, 202, {"Location": location}
