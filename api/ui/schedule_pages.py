"""Dashboard pages of schedules: the list, a new schedule, and one schedule (edit it, pause or
resume it, delete it, and its runs).

The list and the page read through the API's own queries (``netraven_tasks.schedules.queries``
and ``describe``), so a page and ``GET /schedules`` agree on who sees what and on each schedule's
state. The form shows arguments and targets with the launch form's machinery
(``api.ui.argument_form``); the page's script sends it to ``POST /schedules`` or
``PATCH /schedules/{id}`` and asks ``GET /schedules/preview`` for the next five runs as the
timing changes.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from flask import render_template, request
from marshmallow import Schema, fields, validate

from api.context import db_session
from api.job_log_queries import JobLogFilter, page_of_job_logs
from api.security import current_viewer
from api.ui.argument_form import argument_fields, device_argument
from api.ui.batch_pages import usernames
from api.ui.blueprint import blp
from api.ui.device_pages import inventory_choices
from api.ui.filters import FilterError, load_filters
from api.ui.launch_pages import job_type_view, offered_job_type
from api.ui.paging import MAX_PAGE, pager, window
from api.ui.preference_form import ZONES
from api.ui.session import signed_in
from netraven_tasks.devices.selection import Selector
from netraven_tasks.jobs.registry import JobType, all_job_types, get_job_type
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.schedules.queries import schedule_page, visible_schedule
from netraven_tasks.schedules.service import describe, timing_of
from netraven_tasks.schedules.wording import timing_words

PAGE_SIZE = 25
RUNS_PAGE_SIZE = 25
# The interval's units in the form, largest first: a stored interval shows in the largest that divides it.
INTERVAL_UNITS = (("days", 86400), ("hours", 3600), ("minutes", 60), ("seconds", 1))


class SchedulePageSchema(Schema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))


def target_words(schedule: Schedule, declared: JobType | None) -> str:
    """What the schedule runs on: its selector, its device argument, or nothing."""
    if schedule.targets:
        return Selector.of(schedule.targets).describe()
    device = (schedule.arguments or {}).get(declared.device_arg) if declared and declared.device_arg else None
    return f"device {device}" if device else "—"


def interval_parts(seconds: int | None) -> tuple[int | None, int]:
    """``7200`` → ``(2, 3600)``: the count and the unit the form shows an interval in."""
    if not seconds:
        return None, 60
    unit = next(size for _, size in INTERVAL_UNITS if seconds % size == 0)
    return seconds // unit, unit


def _page_number() -> tuple[int, str | None]:
    try:
        return load_filters(SchedulePageSchema, ("page",), request.args)["page"], None
    except FilterError as error:
        return 1, str(error)


@blp.route("/schedules")
@signed_in
def schedules() -> Any:
    number, error = _page_number()
    if error:
        return render_template("ui/refused.html", title="Schedules", error=error), 400
    session = db_session()
    rows, total = schedule_page(session, current_viewer(), *window(number, PAGE_SIZE))
    owners = usernames(schedule.owner_id for schedule in rows)
    listed = [
        {
            "schedule": schedule,
            "described": described,
            "timing": timing_words(timing_of(schedule)),
            "target": target_words(schedule, get_job_type(schedule.job_type)),
            "owner_name": owners.get(schedule.owner_id),
        }
        for schedule, described in zip(rows, describe(session, rows), strict=True)
    ]
    return render_template(
        "ui/schedules.html", title="Schedules", schedules=listed,
        pages=pager(number, total, PAGE_SIZE, lambda to: "/ui/schedules?" + urlencode({"page": to})),
    )  # fmt: skip


def _form(declared: JobType, schedule: Schedule | None) -> dict[str, Any]:
    """What ``schedule_form.html`` needs: the generated controls, holding the schedule's values."""
    stored = (schedule.arguments or {}) if schedule else {}
    count, unit = interval_parts(schedule.interval_seconds if schedule else 3600)
    return {
        "declared": declared,
        "arguments": argument_fields(declared, stored),
        "device": device_argument(declared),
        "device_value": stored.get(declared.device_arg) if declared.device_arg else None,
        "targets": schedule.targets if schedule else None,
        "interval_count": count,
        "interval_unit": unit,
        "interval_units": INTERVAL_UNITS,
        "zones": ZONES,
        **inventory_choices(),
    }


@blp.route("/schedules/new")
@signed_in
def new_schedule() -> Any:
    name = request.args.get("job_type", "")
    if not name:
        offered = [view for view in map(job_type_view, all_job_types()) if view.offer.offered]
        return render_template("ui/schedule_new.html", title="New schedule", job_types=offered, form=None)
    view, refused = offered_job_type(name)
    if view is None:
        return refused
    return render_template(
        "ui/schedule_new.html", title=f"New schedule of {view.declared.name}", form=_form(view.declared, None)
    )


@blp.route("/schedules/<string:schedule_id>")
@signed_in
def schedule_detail(schedule_id: str) -> Any:
    session = db_session()
    number = (
        int(schedule_id) if schedule_id.isascii() and schedule_id.isdigit() and len(schedule_id) <= 10 else 0
    )
    schedule = visible_schedule(session, number, current_viewer())
    if schedule is None:
        return render_template("ui/not_found.html", title="Not found", what="such schedule"), 404
    page, error = _page_number()
    if error:
        return render_template("ui/refused.html", title=f"Schedule {schedule.id}", error=error), 400
    runs_filter = JobLogFilter(current_viewer(), schedule_id=schedule.id)
    runs, total = page_of_job_logs(session, runs_filter, page, RUNS_PAGE_SIZE)
    declared = get_job_type(schedule.job_type)
    link = f"/ui/schedules/{schedule.id}?"
    return render_template(
        "ui/schedule_detail.html",
        title=f"Schedule {schedule.id}: {schedule.description or schedule.job_type}",
        schedule=schedule,
        described=describe(session, [schedule])[0],
        timing=timing_words(timing_of(schedule)),
        target=target_words(schedule, declared),
        owner_name=usernames([schedule.owner_id]).get(schedule.owner_id),
        form=_form(declared, schedule) if declared else None,
        runs=runs,
        pages=pager(page, total, RUNS_PAGE_SIZE, lambda to: link + urlencode({"page": to})),
    )
