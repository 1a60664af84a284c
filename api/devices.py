"""``GET /devices/{host}/backups`` and ``GET /devices/{host}/backups/{sha256}``: stored configurations.

A caller reads one history per device: admins the shared history (or a user's, with ``owner``),
other users their own, the one their runs wrote (``readable_history``, which the dashboard's
pages use too). ``?diff=<sha256>`` compares two versions as people read them: normalised for the
device's platform, secrets masked (``config_diff``); ``content`` is the stored text, unmasked.
"""

from __future__ import annotations

import re
from typing import Any

from flask.views import MethodView
from marshmallow import Schema, ValidationError, fields, validate

from api.context import current_settings, db_session
from api.errors import fail
from api.json_body import Blueprint
from api.security import MAX_USER_ID, current_caller, errors, protect
from netraven_tasks.backups.diffs import ConfigDiff, config_diff, rules_for
from netraven_tasks.backups.queries import readable_history
from netraven_tasks.backups.store import list_versions, read_content
from netraven_tasks.devices.inventory import device_platform
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.jobs.hosts import validate_host

blp = protect(Blueprint("devices", __name__, url_prefix="/devices", description="Configuration backups"))

MAX_DIFF_LINES = 20_000  # lines of one diff the API answers (the rest is counted)
SHA256 = re.compile(r"^[0-9a-f]{64}$")


class HistoryQuerySchema(InputSchema):
    owner = fields.Integer(
        validate=validate.Range(1, MAX_USER_ID),
        metadata={"description": "admins: read this user's own history instead of the shared one"},
    )


class ContentQuerySchema(HistoryQuerySchema):
    diff = fields.String(
        validate=validate.Regexp(SHA256, error="diff must be a sha256 (64 lowercase hex digits)"),
        metadata={"description": "another version's sha256: answer the diff from it (normalised, masked)"},
    )


class BackupVersionSchema(Schema):
    sha256 = fields.String()
    size_bytes = fields.Integer()
    changed = fields.Boolean()
    lines_added = fields.Integer(
        allow_none=True, metadata={"description": "against the previous version, after normalisation"}
    )
    lines_removed = fields.Integer(allow_none=True)
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
    lines_added = fields.Integer(metadata={"description": "with diff: lines the diff adds"})
    lines_removed = fields.Integer(metadata={"description": "with diff: lines the diff removes"})
    diff_lines_omitted = fields.Integer(metadata={"description": f"diff lines beyond {MAX_DIFF_LINES}"})


def _history(query: dict[str, Any]) -> int | None:
    """The history the caller reads (HistoryForbidden, a 403, for another user's unless admin)."""
    caller = current_caller()
    return readable_history(caller.id, caller.is_admin, query.get("owner"))


def version_name(device: str, sha256: str) -> str:
    """How a diff names a version: ``r1@0123456789ab``."""
    return f"{device}@{sha256[:12]}"


def readable_diff(device: str, old: tuple[str, bytes], new: tuple[str, bytes], max_lines: int) -> ConfigDiff:
    """The diff people read from version ``old`` to ``new`` ((sha256, content) each): normalised
    for the device's inventory platform (``generic`` for a host not in the inventory), secrets
    masked unless ``NETRAVEN_CONFIG_MASK_SECRETS`` is off, the first ``max_lines`` lines kept."""
    settings = current_settings()
    return config_diff(
        old[1],
        new[1],
        platform=device_platform(db_session(), device),
        rules=rules_for(settings),
        names=(version_name(device, old[0]), version_name(device, new[0])),
        mask=settings.config_mask_secrets,
        max_lines=max_lines,
    )


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
        namespace = _history(query)
        versions = list_versions(db_session(), _device(host), namespace)
        return {
            "device": host,
            "history": "shared" if namespace is None else "owner",
            "versions": [
                {
                    "sha256": version.sha256,
                    "size_bytes": size,
                    "changed": version.changed,
                    "lines_added": version.lines_added,
                    "lines_removed": version.lines_removed,
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
        """One version's content, or with ``diff`` the diff from that other version to it (normalised
        for the device's platform, secrets masked), with its counts."""
        namespace = _history(query)
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
        diff = readable_diff(device, (other, old), (sha256, content), MAX_DIFF_LINES)
        return {
            "device": device,
            "sha256": sha256,
            "diff_from": other,
            "diff": diff.text,
            "lines_added": diff.added,
            "lines_removed": diff.removed,
            "diff_lines_omitted": diff.omitted,
        }
