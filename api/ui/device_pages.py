"""Dashboard pages of the device inventory: the filtered list, and one device with its runs and backups."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import render_template, request
from marshmallow import ValidationError
from sqlalchemy import select

from api.context import db_session
from api.errors import describe_errors
from api.inventory import DeviceQuerySchema
from api.job_log_queries import JobLogFilter, page_of_job_logs
from api.security import visible_owner
from api.ui.blueprint import blp
from api.ui.session import caller, signed_in
from netraven_tasks.backups.store import list_versions
from netraven_tasks.devices.inventory import DeviceFilter, find_device, page_of_devices
from netraven_tasks.devices.models import NAME_LENGTH, Device, DeviceTag
from netraven_tasks.devices.schemas import PLATFORMS

PAGE_SIZE = 50
RECENT_RUNS = 20
RECENT_BACKUPS = 10
MAX_PAGE = 100_000


def _choices() -> dict[str, list[str]]:
    """The sites and tags in use, for the filters' menus."""
    session = db_session()
    sites = session.scalars(
        select(Device.site).distinct().where(Device.site.is_not(None)).order_by(Device.site)
    )
    tags = session.scalars(select(DeviceTag.tag).distinct().order_by(DeviceTag.tag))
    return {"sites": [site for site in sites if site], "tags": list(tags), "platforms": list(PLATFORMS)}


def _wanted(args: Any) -> DeviceFilter:
    """The list's filters through the API's own query schema: a bad value is refused the same way."""
    given: dict[str, Any] = {
        key: args.get(key) for key in ("site", "platform", "q", "enabled") if args.get(key)
    }
    tags = [tag for tag in args.getlist("tag") if tag]
    if tags:
        given["tag"] = tags
    where: DeviceFilter = DeviceQuerySchema().load(given)
    return where


@blp.route("/devices")
@signed_in
def devices() -> Any:
    page_text = request.args.get("page", "1")
    try:
        wanted = _wanted(request.args)
        if not page_text.isdigit() or not 1 <= int(page_text) <= MAX_PAGE:
            raise ValidationError("must be a whole number from 1", "page")
    except ValidationError as error:
        page = render_template(
            "ui/devices.html", title="Devices", error=describe_errors(error.messages), wanted=DeviceFilter(),
            devices=[], pages=None, **_choices(),
        )  # fmt: skip
        return page, 400
    number = int(page_text)
    rows, total = page_of_devices(db_session(), wanted, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    kept = [(key, value) for key, value in request.args.items(multi=True) if value and key != "page"]
    last = max(1, -(-total // PAGE_SIZE))

    def link(to: int) -> str:
        return "/ui/devices?" + urlencode([*kept, ("page", to)])

    pages = {
        "number": number,
        "last": last,
        "total": total,
        "previous": link(number - 1) if number > 1 else None,
        "next": link(number + 1) if number < last else None,
    }
    return render_template(
        "ui/devices.html", title="Devices", devices=rows, wanted=wanted, pages=pages, filtered=bool(kept),
        error=None, **_choices(),
    )  # fmt: skip


@blp.route("/devices/<string:name>")
@signed_in
def device_detail(name: str) -> Any:
    me = caller()
    session = db_session()
    device = find_device(session, name) if len(name) <= NAME_LENGTH else None
    if device is None:
        page = render_template("ui/not_found.html", title="Not found", what=f"device {name[:NAME_LENGTH]}")
        return page, 404
    owner = visible_owner(me, None)
    runs, run_total = page_of_job_logs(
        session, JobLogFilter(device=device.name, owner_id=owner), 1, RECENT_RUNS
    )
    # Admins see the shared history, others their own (as GET /devices/{host}/backups answers them).
    backups = list_versions(session, device.name, None if me.is_admin else me.id, RECENT_BACKUPS)
    return render_template(
        "ui/device_detail.html", title=device.name, device=device, runs=runs, run_total=run_total,
        backups=backups,
    )  # fmt: skip
