"""``GET /devices/{host}/backups`` and ``GET /devices/{host}/backups/{sha256}``: stored configurations.

A caller reads one history per device: admins the shared history (or a user's, with ``owner``),
other users their own, the one their runs wrote. ``?diff=<sha256>`` compares two versions.
"""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from api.context import db_session
from api.errors import fail
from api.json_body import Blueprint
from api.security import MAX_USER_ID, Caller, current_caller, errors, protect
from netraven_tasks.backups.store import list_versions, read_content, unified_diff
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.jobs.hosts import validate_host

blp = protect(Blueprint("devices", __name__, url_prefix="/devices", description="Configuration backups"))

SHA256 = re.compile(r"^[0-9a-f]{64}$")


class HistoryQuerySchema(InputSchema):
    owner = fields.Integer(
        validate=validate.Range(1, MAX_USER_ID),
        metadata={"description": "admins: read this user's own history instead of the shared one"},
    )


class ContentQuerySchema(HistoryQuerySchema):
    diff = fields.String(
        validate=validate.Regexp(SHA256, error="diff must be a sha256 (64 lowercase hex digits)"),
        metadata={"description": "another version's sha256: answer a unified diff from it"},
    )


class BackupVersionSchema(Schema):
    sha256 = fields.String()
    size_bytes = fields.Integer()
    changed = fields.Boolean()
    driver = fields.String()
    launched_by = fields.Integer(allow_none=True, metadata={"description": "user id of the launcher"})
    task_id = fields.String(allow_none=True)
    created_at = fields.DateTime()


class BackupHistorySchema(Schema):
    device = fields.String()
    history = fields.String(metadata={"description": "shared, or owner (a user's own runs)"})
    versions = fields.List(fields.Nested(BackupVersionSchema))


class BackupContentSchema(Schema):
    device = fields.String()
    sha256 = fields.String()
    content = fields.String(allow_none=True)
    diff_from = fields.String(allow_none=True)
    diff = fields.String(allow_none=True)


def _namespace(caller: Caller, owner: int | None) -> int | None:
    if caller.is_admin:
        return owner
    if owner is not None and owner != caller.id:
        fail(403, "only admins may read other users' backups")
    return caller.id


def _device(host: str) -> str:
    try:
        validate_host(host)
    except ValidationError as error:
        fail(422, f"host: {'; '.join(map(str, error.messages))}", errors={"host": error.messages})
    return host


@blp.route("/<string:host>/backups")
class BackupHistory(MethodView):
    @blp.arguments(HistoryQuerySchema, location="query")
    @blp.response(200, BackupHistorySchema)
    @errors(blp, 401, 403, 422)
    def get(self, query: dict[str, Any], host: str) -> dict[str, Any]:
        """The stored versions of a device's configuration, newest first (at most 100)."""
        namespace = _namespace(current_caller(), query.get("owner"))
        versions = list_versions(db_session(), _device(host), namespace)
        return {
            "device": host,
            "history": "shared" if namespace is None else "owner",
            "versions": [
                {
                    "sha256": version.sha256,
                    "size_bytes": size,
                    "changed": version.changed,
                    "driver": version.driver,
                    "launched_by": version.launched_by_id,
                    "task_id": version.task_id,
                    "created_at": version.created_at,
                }
                for version, size in versions
            ],
        }


@blp.route("/<string:host>/backups/<string:sha256>")
class BackupContent(MethodView):
    @blp.arguments(ContentQuerySchema, location="query")
    @blp.response(200, BackupContentSchema)
    @errors(blp, 401, 403, 404, 422)
    def get(self, query: dict[str, Any], host: str, sha256: str) -> dict[str, Any]:
        """One version's content, or with ``diff`` the unified diff from that other version to it."""
        namespace = _namespace(current_caller(), query.get("owner"))
        device = _device(host)
        if not SHA256.match(sha256):
            fail(404, "sha256 must be 64 lowercase hex digits")
        content = read_content(db_session(), device, namespace, sha256)
        if content is None:
            fail(404, f"no backup {sha256} of {device} in this history")
        other = query.get("diff")
        if other is None:
            return {"device": device, "sha256": sha256, "content": content.decode("utf-8", "replace")}
        old = read_content(db_session(), device, namespace, other)
        if old is None:
            fail(404, f"no backup {other} of {device} in this history to compare with")
        return {
            "device": device,
            "sha256": sha256,
            "diff_from": other,
            "diff": unified_diff(old, content, f"{device}@{other[:12]}", f"{device}@{sha256[:12]}"),
        }
