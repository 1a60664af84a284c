"""``GET|POST /devices`` and ``GET|PATCH|DELETE /devices/{name}``: the device inventory.

Every signed-in user reads it; only admins change it. The backups of a device (``api/devices.py``)
are served under the same prefix and work for any host, in the inventory or not.
"""

from __future__ import annotations

from typing import Any

from flask import request, url_for
from flask.views import MethodView
from flask_smorest.pagination import PaginationParameters
from marshmallow import Schema, fields, post_load, validate
from sqlalchemy.exc import IntegrityError

from api.context import db_session
from api.errors import fail
from api.pagination import PaginatedBlueprint, requested_window
from api.security import current_caller, errors, protect
from api.session_cookie import SAFE_METHODS
from netraven_tasks.devices.inventory import (
    DeviceExists,
    DeviceFilter,
    apply_values,
    create_device,
    describe,
    find_device,
    page_of_devices,
)
from netraven_tasks.devices.models import NAME_LENGTH
from netraven_tasks.devices.schemas import (
    KNOWN_PLATFORM,
    MAX_TAGS,
    SITE_WORD,
    TAG_WORD,
    DeviceSchema,
    FullMatch,
    with_defaults,
)
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.models import utcnow

blp = protect(
    PaginatedBlueprint("inventory", __name__, url_prefix="/devices", description="The device inventory")
)

EXAMPLE = {
    "name": "core-rtr-01",
    "address": "10.0.0.1",
    "platform": "cisco_ios",
    "site": "FRA",
    "tags": ["core", "pop:fra"],
}


class DeviceOutSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    address = fields.String(required=True)
    platform = fields.String(required=True)
    site = fields.String(allow_none=True)
    tags = fields.List(fields.String(), required=True)
    enabled = fields.Boolean(required=True)
    created_at = fields.DateTime(required=True)
    updated_at = fields.DateTime(required=True)


class DeviceChangesSchema(DeviceSchema):
    """PATCH: any of the fields but the name."""

    class Meta:
        exclude = ("name",)


class DeviceQuerySchema(InputSchema):
    site = fields.String(validate=SITE_WORD)
    platform = fields.String(validate=KNOWN_PLATFORM)
    tag = fields.List(
        fields.String(validate=TAG_WORD),
        validate=validate.Length(max=MAX_TAGS),
        metadata={"description": "repeat for several: devices with every one"},
    )
    enabled = fields.Boolean(truthy={"true"}, falsy={"false"}, metadata={"description": "true or false"})
    q = fields.String(
        validate=FullMatch(r"^[A-Za-z0-9_.-]{1,253}$", error="must be the start of a device name"),
        metadata={"description": "devices whose name starts with this"},
    )

    @post_load
    def device_filter(self, query: dict[str, Any], **_: Any) -> DeviceFilter:
        return DeviceFilter(
            site=query.get("site"),
            platform=query.get("platform"),
            tags=query.get("tag", ()),
            enabled=query.get("enabled"),
            name_prefix=query.get("q"),
        )


@blp.before_request
def _admins_write() -> None:
    # Before the body is read: a user who may not write learns that, not what the body lacks.
    if request.method not in SAFE_METHODS and not current_caller().is_admin:
        fail(403, "only admins may change the device inventory")


def _device(name: str) -> Any:
    device = find_device(db_session(), name) if len(name) <= NAME_LENGTH else None
    if device is None:
        fail(404, f"no device named {name[:NAME_LENGTH]} in the inventory")
    return device


@blp.route("")
class Devices(MethodView):
    @blp.arguments(DeviceQuerySchema, location="query")
    @blp.response(200, DeviceOutSchema(many=True))
    @blp.paginate(page_size=50, max_page_size=500)
    @errors(blp, 401, 422)
    def get(self, where: DeviceFilter, pagination_parameters: PaginationParameters) -> list[dict[str, Any]]:
        """The inventory by name, filtered; the X-Pagination header has the total."""
        window = requested_window(pagination_parameters) or (0, 0)
        devices, pagination_parameters.item_count = page_of_devices(db_session(), where, *window)
        return [describe(device) for device in devices]

    @blp.arguments(DeviceSchema, example=EXAMPLE)
    @blp.response(201, DeviceOutSchema, headers={"Location": {"schema": {"type": "string"}}})
    @errors(blp, 401, 403, 409, 422)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Add a device (admins): the address defaults to the name, the platform to generic."""
        session = db_session()
        try:
            device = create_device(session, with_defaults(body))
            session.commit()
        except DeviceExists as error:
            fail(409, str(error))
        except IntegrityError:  # the same name added by a concurrent request
            session.rollback()
            fail(409, f"a device named {body['name']} already exists")
        location = url_for("inventory.DeviceDetail", name=device.name)
        return describe(device), 201, {"Location": location}


@blp.route("/<string:name>")
class DeviceDetail(MethodView):
    @blp.response(200, DeviceOutSchema)
    @errors(blp, 401, 404)
    def get(self, name: str) -> dict[str, Any]:
        """One device."""
        return describe(_device(name))

    @blp.arguments(DeviceChangesSchema(partial=True))
    @blp.response(200, DeviceOutSchema)
    @errors(blp, 401, 403, 404, 422)
    def patch(self, body: dict[str, Any], name: str) -> dict[str, Any]:
        """Change the fields given (admins); ``tags`` replaces the whole list."""
        device = _device(name)
        apply_values(device, body, utcnow())
        db_session().commit()
        return describe(device)

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, name: str) -> None:
        """Remove a device from the inventory (admins); its runs and backups stay."""
        session = db_session()
        session.delete(_device(name))
        session.commit()
