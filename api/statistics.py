"""``GET /job-logs/statistics``: totals, success rate, duration percentiles and a time series.

The numbers come from ``netraven_tasks.statistics`` (SQL aggregates); non-admins get their own jobs'.
"""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.context import db_session
from api.csv_export import csv_alternative, csv_response, format_field, wants_csv
from api.json_body import Blueprint
from api.schemas import UTCDateTime
from api.security import current_caller, errors, protect, visible_owner
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.models import utcnow
from netraven_tasks.statistics import PERIODS, compute_statistics, make_window

blp = protect(Blueprint("statistics", __name__, url_prefix="/job-logs", description="Job statistics"))


class StatisticsQuerySchema(InputSchema):
    time_period = fields.String(
        validate=validate.OneOf(list(PERIODS)), metadata={"description": "default day (ignored with since)"}
    )
    since = UTCDateTime(metadata={"description": "start of a custom window (ISO 8601, UTC if no offset)"})
    until = UTCDateTime(metadata={"description": "end of the window (default now); at most 400 days"})
    job_type = fields.String(validate=validate.Length(max=100))
    device = fields.String(validate=validate.Length(max=255))
    owner = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "user id (admins only; others may give only their own)"},
    )
    format = format_field()


class DurationSchema(Schema):
    avg = fields.Float(allow_none=True)
    p50 = fields.Float(allow_none=True)
    p95 = fields.Float(allow_none=True)
    max = fields.Float(allow_none=True)


class JobTypeStatisticsSchema(Schema):
    total = fields.Integer()
    completed = fields.Integer()
    failed = fields.Integer()
    success_rate = fields.Float(allow_none=True)
    avg_duration = fields.Float(allow_none=True)


class FailingDeviceSchema(Schema):
    device = fields.String()
    failed = fields.Integer()
    total = fields.Integer()


class SeriesBucketSchema(Schema):
    start = fields.DateTime()
    end = fields.DateTime()
    total = fields.Integer()
    queued = fields.Integer()
    running = fields.Integer()
    retrying = fields.Integer()
    completed = fields.Integer()
    failed = fields.Integer()
    canceled = fields.Integer()


class StatisticsSchema(Schema):
    time_period = fields.String(metadata={"description": "hour|day|week|month|year, or custom"})
    since = fields.DateTime()
    until = fields.DateTime()
    bucket_seconds = fields.Integer(metadata={"description": "width of each series bucket"})
    total_jobs = fields.Integer()
    completed_jobs = fields.Integer()
    failed_jobs = fields.Integer()
    canceled_jobs = fields.Integer()
    running_jobs = fields.Integer(metadata={"description": "not finished yet: queued, running or retrying"})
    retried_jobs = fields.Integer(metadata={"description": "runs that needed more than one attempt"})
    success_rate = fields.Float(allow_none=True, metadata={"description": "completed / finished, in percent"})
    duration_seconds = fields.Nested(DurationSchema, metadata={"description": "durations of finished runs"})
    job_types = fields.Dict(keys=fields.String(), values=fields.Nested(JobTypeStatisticsSchema))
    top_failing_devices = fields.List(fields.Nested(FailingDeviceSchema))
    series = fields.List(fields.Nested(SeriesBucketSchema))


@blp.route("/statistics")
class Statistics(MethodView):
    @blp.arguments(StatisticsQuerySchema, location="query")
    @blp.response(200, StatisticsSchema)
    @blp.doc(**csv_alternative({"$ref": "#/components/schemas/Statistics"}))
    @errors(blp, 401, 403)
    def get(self, query: dict[str, Any]) -> dict[str, Any] | Response:
        """Statistics of the jobs queued in a window (non-admins: of their own jobs).

        As CSV (``?format=csv`` or ``Accept: text/csv``): the series, one row per bucket."""
        window = make_window(
            utcnow(),
            query.get("time_period"),
            query.get("since"),
            query.get("until"),
            job_type=query.get("job_type"),
            device=query.get("device"),
            owner_id=visible_owner(current_caller(), query.get("owner")),
        )
        figures = compute_statistics(db_session(), window)
        if wants_csv(query):
            header = list(SeriesBucketSchema().fields)
            rows = ([bucket[name] for name in header] for bucket in figures["series"])
            return csv_response(f"statistics-{window.time_period}.csv", header, rows)
        return figures
