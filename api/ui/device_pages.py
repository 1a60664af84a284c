"""Dashboard pages of the device inventory: the filtered list with each device's last outcome per
job type, and one device with its runs and backups."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import render_template, request
from marshmallow import ValidationError
from sqlalchemy import Row, Select, func, select

from api.context import db_session
from api.errors import describe_errors
from api.inventory import DeviceQuerySchema
from api.job_log_queries import JobLogFilter, page_of_job_logs
from api.security import current_viewer
from api.ui.backup_pages import Reading, version_items
from api.ui.blueprint import blp
from api.ui.session import caller, signed_in
from netraven_tasks.access.policy import Viewer
from netraven_tasks.backups.queries import readable_history, version_page
from netraven_tasks.compliance.results import compliance_view, latest_compliance
from netraven_tasks.devices.inventory import DeviceFilter, find_device, page_of_devices
from netraven_tasks.devices.models import NAME_LENGTH, Device, DeviceTag
from netraven_tasks.devices.schemas import PLATFORMS
from netraven_tasks.models import JobLog
from netraven_tasks.statuses import TERMINAL_STATUSES

PAGE_SIZE = 50
RECENT_RUNS = 20
RECENT_BACKUPS = 10
MAX_PAGE = 100_000


def inventory_choices() -> dict[str, list[str]]:
    """The sites and tags in use and the known platforms: the menus of the inventory's filters and of
    the fleet selector."""
    session = db_session()
    sites = session.scalars(
        select(Device.site).distinct().where(Device.site.is_not(None)).order_by(Device.site)
    )
    tags = session.scalars(select(DeviceTag.tag).distinct().order_by(DeviceTag.tag))
    return {"sites": [site for site in sites if site], "tags": list(tags), "platforms": list(PLATFORMS)}


def last_outcomes_query(names: list[str], viewer: Viewer | None) -> Select[Any]:
    """Per device of ``names``, the newest finished run of each job type that ``viewer`` may see
    (None: every run): one query for a whole page, served by
    ``ix_job_logs_device_queued_at`` (a window over the page's devices, which SQLite runs too)."""
    newest_first = (JobLog.queued_at.desc(), JobLog.id.desc())
    rank = func.row_number().over(partition_by=(JobLog.device, JobLog.job_type), order_by=newest_first)
    runs = select(JobLog.id, JobLog.device, JobLog.job_type, JobLog.status, rank.label("rank"))
    visible_finished = JobLogFilter(viewer, statuses=sorted(TERMINAL_STATUSES))
    ranked = visible_finished.apply(runs.where(JobLog.device.in_(names))).subquery()
    return (
        select(ranked.c.id, ranked.c.device, ranked.c.job_type, ranked.c.status)
        .where(ranked.c.rank == 1)
        .order_by(ranked.c.device, ranked.c.job_type)
    )


def last_outcomes(names: list[str], viewer: Viewer | None) -> dict[str, list[Row[Any]]]:
    """``last_outcomes_query``'s runs by device name."""
    outcomes: dict[str, list[Row[Any]]] = {}
    if names:
        for row in db_session().execute(last_outcomes_query(names, viewer)):
            outcomes.setdefault(row.device, []).append(row)
    return outcomes


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
            devices=[], pages=None, **inventory_choices(),
        )  # fmt: skip
        return page, 400
    number = int(page_text)
    rows, total = page_of_devices(db_session(), wanted, PAGE_SIZE, (number - 1) * PAGE_SIZE)
    outcomes = last_outcomes([device.name for device in rows], current_viewer())
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
        "ui/devices.html", title="Devices", devices=rows, outcomes=outcomes, wanted=wanted, pages=pages,
        filtered=bool(kept), error=None, **inventory_choices(),
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
    runs, run_total = page_of_job_logs(
        session, JobLogFilter(current_viewer(), device=device.name), 1, RECENT_RUNS
    )
    # The history the caller reads by default, as on the backups page and in the API.
    reading = Reading(device.name, device, readable_history(me.id, me.is_admin, None), None, {})
    backups, backup_total = version_page(session, device.name, reading.namespace, RECENT_BACKUPS, 0)
    # The shared history's latest compliance result, as GET /devices/{name}/compliance shows it:
    # verdicts for everyone, the quoted configuration lines for those who may read that history.
    result = latest_compliance(session, device.name)
    compliance = compliance_view(session, result, quotes=me.is_admin) if result is not None else None
    return render_template(
        "ui/device_detail.html", title=device.name, device=device, runs=runs, run_total=run_total,
        backups=version_items(reading, backups), backup_total=backup_total, compliance=compliance,
    )  # fmt: skip
