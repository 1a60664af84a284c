"""Fleet runs: ``POST /jobs/{job_type}/batches``, ``GET /batches``, ``GET /batches/{id}``, cancel, re-run.

A user sees their own batches and their teams' (``netraven_tasks.access.policy``); any other batch
answers 404. Views let the domain
errors propagate: ``api.error_map`` answers each (``BatchNotFound`` is a 404 there).
"""

from __future__ import annotations

from typing import Any

from apispec import APISpec
from flask import url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import INCLUDE, Schema, fields, validate

from api.context import current_settings, db_session
from api.pagination import PaginatedBlueprint, requested_window
from api.quotas import count_launch
from api.security import current_caller, current_viewer, errors, protect
from netraven_tasks.access.policy import Action
from netraven_tasks.batches.actions import RERUN_ONLY, cancel_batch, rerun_batch
from netraven_tasks.batches.counters import batch_row
from netraven_tasks.batches.launch import BatchOrigin, LaunchedBatch, launch_batch
from netraven_tasks.batches.models import COUNTED, Batch, BatchStatus
from netraven_tasks.batches.queries import batch_page, describe_batch, visible_batch
from netraven_tasks.devices.schemas import SELECTOR_FILTERS, TargetsSchema
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.teams.service import launch_team, rerun_team

blp = protect(PaginatedBlueprint("batches", __name__, description="Fleet runs: one job over many devices"))


class ArgumentsSchema(InputSchema):
    """The job's arguments without its device argument; the job type's own schema checks them."""

    class Meta:
        unknown = INCLUDE


def document_targets(spec: APISpec) -> None:
    """Register the ``Targets`` component (``TargetsSchema``, what batches and schedules select) with
    the rule its ``names_or_filters`` check enforces, which apispec cannot read from the fields: at
    least one field, and ``devices`` or filters, never both (exactly one branch of the ``oneOf``).
    Call it before any blueprint that uses the schema, so every reference points here."""
    any_filter = {"anyOf": [{"required": [name]} for name in SELECTOR_FILTERS]}
    rule = {"minProperties": 1, "oneOf": [{"required": ["devices"]}, any_filter]}
    spec.components.schema("Targets", rule, schema=TargetsSchema)


class BatchLaunchSchema(InputSchema):
    targets = fields.Nested(
        TargetsSchema,
        required=True,
        metadata={"description": "a device selector: devices (names), or any of site, platform, tags"},
    )
    arguments = fields.Nested(ArgumentsSchema, load_default=dict)
    team_id = fields.Integer(
        allow_none=True,
        validate=validate.Range(min=1, max=2**31 - 1),
        metadata={"description": "the team the batch belongs to (you must be a member)"},
    )


class LaunchedBatchSchema(Schema):
    batch_id = fields.Integer(required=True)
    total = fields.Integer(required=True)
    status = fields.String(required=True)


class BatchSchema(Schema):
    id = fields.Integer(required=True)
    job_type = fields.String(required=True)
    status = fields.String(required=True, validate=validate.OneOf([status.value for status in BatchStatus]))
    total = fields.Integer(required=True)
    counts = fields.Dict(keys=fields.String(validate=validate.OneOf(COUNTED)), values=fields.Integer())
    progress = fields.Float(required=True, metadata={"description": "share of children over, 0 to 1"})
    owner = fields.Integer(allow_none=True, metadata={"description": "the owner's user id"})
    team_id = fields.Integer(allow_none=True, metadata={"description": "the team it belongs to"})
    schedule_id = fields.Integer(allow_none=True)
    rerun_of = fields.Integer(allow_none=True, metadata={"description": "the batch this one re-runs"})
    created_at = fields.String(required=True)
    finished_at = fields.String(allow_none=True)
    failed_devices = fields.List(fields.String(), metadata={"description": "names, at most 1000"})


class CanceledBatchSchema(Schema):
    batch_id = fields.Integer(required=True)
    canceled = fields.Integer(required=True, metadata={"description": "children canceled before they ran"})


class RerunBatchSchema(InputSchema):
    # "only" is a Schema attribute: the field keeps its JSON name under another one
    rerun_only = fields.String(
        data_key="only", validate=validate.OneOf(RERUN_ONLY), metadata={"description": "'failed'"}
    )


def _launched(launched: LaunchedBatch) -> tuple[dict[str, Any], int, dict[str, str]]:
    location = url_for("batches.BatchDetail", batch_id=launched.batch_id)
    body = {"batch_id": launched.batch_id, "total": launched.total, "status": launched.status}
    return body, 202, {"Location": location}


def _visible(batch_id: int, action: Action = Action.VIEW) -> Batch:
    return visible_batch(db_session(), batch_id, current_viewer(), action)


@blp.route("/jobs/<string:job_type>/batches")
class JobBatches(MethodView):
    @blp.arguments(BatchLaunchSchema, example={"targets": {"site": "FRA", "tags": ["core"]}, "arguments": {}})
    @blp.response(
        202,
        LaunchedBatchSchema,
        headers={"Location": {"description": "the batch", "schema": {"type": "string"}}},
    )
    @errors(blp, 401, 403, 404, 422, 429, 503)
    def post(self, body: dict[str, Any], job_type: str) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Launch the job on every enabled device the targets select now, one run per device."""
        caller = current_caller()
        team_id = launch_team(db_session(), current_viewer(), body.get("team_id"))
        count_launch()  # once per batch
        launched = launch_batch(
            current_settings(),
            job_type,
            body["targets"],
            body["arguments"],
            caller.id,
            is_admin=caller.is_admin,
            origin=BatchOrigin(team_id=team_id),
        )
        return _launched(launched)


@blp.route("/batches")
class Batches(MethodView):
    @blp.response(200, BatchSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401)
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """The batches the caller may see, newest first (without failed_devices: see one batch)."""
        window = requested_window(pagination_parameters)
        if window is None:
            pagination_parameters.item_count = 0
            return []
        session = db_session()
        rows, pagination_parameters.item_count = batch_page(session, current_viewer(), *window)
        return [batch_row(batch) | {"failed_devices": []} for batch in rows]  # one row each, no child read


@blp.route("/batches/<int:batch_id>")
class BatchDetail(MethodView):
    @blp.response(200, BatchSchema)
    @errors(blp, 401, 404)
    def get(self, batch_id: int) -> dict[str, Any]:
        """One batch: its status and counts (one row read), and the names of its failed devices."""
        return describe_batch(db_session(), _visible(batch_id))


@blp.route("/batches/<int:batch_id>/cancel")
class CancelBatch(MethodView):
    @blp.response(202, CanceledBatchSchema)
    @errors(blp, 401, 404, 409, 503)
    def post(self, batch_id: int) -> dict[str, Any]:
        """Cancel the children that have not started; running ones finish. The batch ends ``canceled``."""
        batch = _visible(batch_id, Action.CANCEL)
        caller = current_caller()
        canceled = cancel_batch(current_settings(), batch.id, caller.id, caller.username)
        return {"batch_id": batch.id, "canceled": canceled}


@blp.route("/batches/<int:batch_id>/rerun")
class RerunBatch(MethodView):
    @blp.arguments(RerunBatchSchema, required=False)
    @blp.response(
        202,
        LaunchedBatchSchema,
        headers={"Location": {"description": "the new batch", "schema": {"type": "string"}}},
    )
    @errors(blp, 401, 403, 404, 409, 422, 429, 503)
    def post(self, body: dict[str, Any], batch_id: int) -> tuple[dict[str, Any], int, dict[str, str]]:
        """A new batch over the same devices (``{"only": "failed"}``: the failed ones), ``rerun_of`` kept."""
        batch = _visible(batch_id, Action.RERUN)
        caller = current_caller()
        count_launch()
        launched = rerun_batch(
            current_settings(),
            batch,
            caller.id,
            caller.is_admin,
            (body or {}).get("rerun_only"),
            team_id=rerun_team(current_viewer(), batch.team_id),
        )
        return _launched(launched)
