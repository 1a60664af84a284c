"""``GET /devices/{name}/compliance``: the latest compliance result of a device, rule by rule.

Every signed-in user reads the shared history's result (runs by admins, operators and admins'
schedules), as they read the device. The findings quote the configuration that was checked, which
only admins may read in the shared history: other users get the line numbers without the text.
``?owner=<id>`` reads a user's own history instead (admins: anyone's; users: their own), where
the owner sees the quotes too.
"""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.context import db_session
from api.errors import fail
from api.json_body import Blueprint
from api.security import MAX_USER_ID, Caller, current_caller, errors, protect
from netraven_tasks.compliance.results import compliance_view, latest_compliance, unchecked_view
from netraven_tasks.devices.inventory import find_device
from netraven_tasks.devices.models import NAME_LENGTH
from netraven_tasks.input_schema import InputSchema

blp = protect(Blueprint("compliance", __name__, url_prefix="/devices", description="Compliance results"))


class ComplianceQuerySchema(InputSchema):
    owner = fields.Integer(
        validate=validate.Range(1, MAX_USER_ID),
        metadata={"description": "read this user's own history (admins: anyone's; users: their own)"},
    )


class FindingSchema(Schema):
    kind = fields.String(metadata={"description": "forbidden (must_not_match matched) or missing"})
    line = fields.Integer(allow_none=True, metadata={"description": "the configuration's line"})
    text = fields.String(
        allow_none=True, metadata={"description": "the line(s) matched, or the section's first line"}
    )


class RuleResultSchema(Schema):
    name = fields.String()
    description = fields.String(allow_none=True)
    status = fields.String(metadata={"description": "passed, failed or not_applicable"})
    findings = fields.List(fields.Nested(FindingSchema))
    findings_omitted = fields.Integer(metadata={"description": "findings beyond the first 50"})
    sections = fields.Integer(allow_none=True, metadata={"description": "blocks checked (a section rule)"})


class ComplianceSchema(Schema):
    device = fields.String()
    history = fields.String(metadata={"description": "shared, or owner (a user's own runs)"})
    checked_at = fields.DateTime(allow_none=True, metadata={"description": "null: never checked"})
    passed = fields.Boolean(allow_none=True)
    summary = fields.String(allow_none=True)
    platform = fields.String(allow_none=True)
    backup_sha256 = fields.String(allow_none=True, metadata={"description": "the backup checked"})
    task_id = fields.String(allow_none=True)
    job_log_id = fields.Integer(allow_none=True, metadata={"description": "the run (null once purged)"})
    quotes_withheld = fields.Boolean(metadata={"description": "the findings' text is left out for you"})
    rules = fields.List(fields.Nested(RuleResultSchema))


def _history(caller: Caller, owner: int | None) -> int | None:
    if owner is not None and owner != caller.id and not caller.is_admin:
        fail(403, "only admins may read other users' compliance results")
    return owner


def _never_checked(name: str, namespace: int | None) -> dict[str, Any]:
    if find_device(db_session(), name) is None:
        fail(404, f"no device named {name} in the inventory, and no compliance result of it")
    return unchecked_view(name, namespace)


@blp.route("/<string:name>/compliance")
class DeviceCompliance(MethodView):
    @blp.arguments(ComplianceQuerySchema, location="query")
    @blp.response(200, ComplianceSchema)
    @errors(blp, 401, 403, 404, 422)
    def get(self, query: dict[str, Any], name: str) -> dict[str, Any]:
        """The latest compliance result of a device: every rule, passed or failed, and where."""
        if len(name) > NAME_LENGTH:
            fail(404, f"no device named {name[:NAME_LENGTH]}")
        caller = current_caller()
        namespace = _history(caller, query.get("owner"))
        result = latest_compliance(db_session(), name, namespace)
        if result is None:
            return _never_checked(name, namespace)
        quotes = caller.is_admin or namespace == caller.id
        return compliance_view(db_session(), result, quotes=quotes)
