"""Fleet runs: ``POST /jobs/{job_type}/batches``, ``GET /batches``, ``GET /batches/{id}``, cancel, re-run.

Non-admins see only their own batches; another user's batch answers 404. The domain errors of
batches are answered in one place (``batch_errors``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from flask import url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from kombu.exceptions import OperationalError as BrokerError
from marshmallow import INCLUDE, Schema, ValidationError, fields, validate

from api.context import current_settings, db_session
from api.errors import fail, fail_invalid
from api.pagination import PaginatedBlueprint, requested_window
from api.quotas import count_launch, too_many
from api.security import current_caller, errors, protect
from netraven_tasks.batches.actions import RERUN_ONLY, cancel_batch, rerun_batch
from netraven_tasks.batches.launch import LaunchedBatch, launch_batch
from netraven_tasks.batches.models import COUNTED, Batch, BatchStatus
from netraven_tasks.batches.queries import BatchNotFound, batch_page, describe_batch, visible_batch
from netraven_tasks.jobs.actions import JobActionRefused
from netraven_tasks.jobs.arguments import contains_nul
from netraven_tasks.jobs.launch import LaunchUnavailable, UnknownJobType
from netraven_tasks.jobs.launch_roles import LaunchForbidden
from netraven_tasks.jobs.registry import all_job_types
from netraven_tasks.quotas import QuotaExceeded

blp = protect(PaginatedBlueprint("batches", __name__, description="Fleet runs: one job over many devices"))


@contextmanager
def batch_errors() -> Iterator[None]:
    """The domain errors of launching and acting on batches, each with its one answer."""
    try:
        yield
    except BatchNotFound as error:
        fail(404, str(error))
    except LaunchForbidden as error:
        fail(403, str(error))
    except UnknownJobType as error:
        known = ", ".join(declared.name for declared in all_job_types())
        fail(404, f"unknown job type {str(error)[:100]!r}; known: {known}")
    except ValidationError as error:
        fail_invalid(error.messages)
    except QuotaExceeded as error:
        too_many(error)
    except JobActionRefused as error:
        fail(409, str(error))
    except LaunchUnavailable as error:
        fail(503, str(error), headers={"Retry-After": str(error.retry_after)})
    except (BrokerError, ConnectionError, OSError) as error:
        fail(503, f"the broker is unreachable: {type(error).__name__}", headers={"Retry-After": "5"})


class ArgumentsSchema(Schema):
    """The job's arguments without its device argument; the job type's own schema checks them."""

    class Meta:
        unknown = INCLUDE


class BatchLaunchSchema(Schema):
    targets = fields.Dict(
        required=True,
        metadata={"description": "a device selector: devices (names), or any of site, platform, tags"},
    )
    arguments = fields.Nested(ArgumentsSchema, load_default=dict)
    team_id = fields.Integer(allow_none=True, metadata={"description": "accepted, not used yet"})


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
    schedule_id = fields.Integer(allow_none=True)
    rerun_of = fields.Integer(allow_none=True, metadata={"description": "the batch this one re-runs"})
    created_at = fields.String(required=True)
    finished_at = fields.String(allow_none=True)
    failed_devices = fields.List(fields.String(), metadata={"description": "names, at most 1000"})


class CanceledBatchSchema(Schema):
    batch_id = fields.Integer(required=True)
    canceled = fields.Integer(required=True, metadata={"description": "children canceled before they ran"})


class RerunBatchSchema(Schema):
    # "only" is a Schema attribute: the field keeps its JSON name under another one
    rerun_only = fields.String(
        data_key="only", validate=validate.OneOf(RERUN_ONLY), metadata={"description": "'failed'"}
    )


def _launched(launched: LaunchedBatch) -> tuple[dict[str, Any], int, dict[str, str]]:
    location = url_for("batches.BatchDetail", batch_id=launched.batch_id)
    body = {"batch_id": launched.batch_id, "total": launched.total, "status": launched.status}
    return body, 202, {"Location": location}


def _visible(batch_id: int) -> Batch:
    caller = current_caller()
    with batch_errors():
        return visible_batch(db_session(), batch_id, caller.id, caller.is_admin)


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
        if contains_nul(body):
            fail(422, "the body must not contain NUL characters")
        caller = current_caller()
        count_launch()  # once per batch
        with batch_errors():
            launched = launch_batch(
                current_settings(),
                job_type,
                body["targets"],
                body["arguments"],
                caller.id,
                is_admin=caller.is_admin,
            )
        return _launched(launched)


@blp.route("/batches")
class Batches(MethodView):
    @blp.response(200, BatchSchema(many=True))
    @blp.paginate(page_size=20, max_page_size=100)
    @errors(blp, 401)
    def get(self, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """The batches the caller may see, newest first (without failed_devices: see one batch)."""
        caller = current_caller()
        window = requested_window(pagination_parameters)
        if window is None:
            pagination_parameters.item_count = 0
            return []
        session = db_session()
        rows, pagination_parameters.item_count = batch_page(session, caller.id, caller.is_admin, *window)
        return [describe_batch(session, batch) | {"failed_devices": []} for batch in rows]


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
        batch = _visible(batch_id)
        caller = current_caller()
        with batch_errors():
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
        batch = _visible(batch_id)
        caller = current_caller()
        count_launch()
        with batch_errors():
            launched = rerun_batch(
                current_settings(), batch, caller.id, caller.is_admin, (body or {}).get("rerun_only")
            )
        return _launched(launched)
