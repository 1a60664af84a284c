"""Dashboard pages of job runs: Active, Job logs (filters, pages, order) and one run's detail."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

from flask import redirect, render_template, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.context import current_settings, db_session
from api.job_log_queries import JobLogFilter, active_job_logs, job_log_with_entries, page_of_job_logs
from api.job_logs import JobLogQuerySchema
from api.security import current_viewer, may_act_on
from api.stream import live_position
from api.ui.blueprint import blp
from api.ui.filters import FilterError, load_filters
from api.ui.session import caller, signed_in
from netraven_tasks.access.policy import Action, Resource
from netraven_tasks.jobs.actions import may_cancel, may_rerun
from netraven_tasks.jobs.registry import all_job_types
from netraven_tasks.maintenance.suppression import suppressed_for_run
from netraven_tasks.models import JobLog, User, utcnow
from netraven_tasks.notifications.models import OutboxMessage
from netraven_tasks.routes.editing import visible_routes
from netraven_tasks.routes.history import RouteTold, routes_told
from netraven_tasks.statuses import JobStatus
from netraven_tasks.teams.models import Team

PAGE_SIZE = 25
PERIODS = {
    "hour": timedelta(hours=1),
    "day": timedelta(days=1),
    "week": timedelta(days=7),
    "month": timedelta(days=30),
}
STATUSES = [status.value for status in JobStatus]
ACTIVE_LIMIT = 500
FIRST_JOB_COMMAND = "netraven-tasks run reachability_check --arg host=127.0.0.1 --arg port=22"


def live_mode() -> str:
    """``stream`` with the Redis live feed; the embedded default polls instead."""
    return "stream" if current_settings().redis_url_in_use else "poll"


def live_start() -> str:
    """Taken before the page's query: the stream then replays whatever changed while it rendered."""
    return live_position() or ""


@blp.route("/")
@blp.route("")
def home() -> Any:
    return redirect("/ui/active", code=303)


@blp.route("/active")
@signed_in
def active() -> str:
    after = live_start()
    rows, total = active_job_logs(db_session(), current_viewer(), 1, ACTIVE_LIMIT)
    return render_template(
        "ui/active.html",
        title="Active jobs",
        jobs=rows,
        total=total,
        live=live_mode(),
        live_after=after,
        first_job_command=FIRST_JOB_COMMAND,
    )


class JobLogPageSchema(Schema):
    """The list page's own parameters, beside the API's filters (``JobLogQuerySchema``)."""

    period = fields.String(validate=validate.OneOf(list(PERIODS)))
    order = fields.String(load_default="newest", validate=validate.OneOf(["newest", "oldest"]))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=100_000))


def _filters(args: Any) -> dict[str, Any]:
    """The list page's query, checked by the API's schema: a wrong value names its field (400)."""
    api_filters = load_filters(JobLogQuerySchema, ("status", "job_type", "device"), args)
    page = load_filters(JobLogPageSchema, ("period", "order", "page"), args)
    statuses = api_filters.get("status") or [""]
    if len(statuses) > 1:
        raise FilterError("status", "choose one status on this page")
    return {
        "status": statuses[0],
        "job_type": api_filters.get("job_type", ""),
        "device": api_filters.get("device", ""),
        **page,
        "period": page.get("period", ""),
    }


@blp.route("/job-logs")
@signed_in
def job_logs() -> Any:
    job_types = sorted(declared.name for declared in all_job_types())
    try:
        wanted = _filters(request.args)
    except FilterError as error:
        page = render_template(
            "ui/job_logs.html", title="Job logs", error=str(error), error_field=error.field,
            wanted={}, jobs=[], job_types=job_types, statuses=STATUSES, periods=PERIODS, pages=None,
        )  # fmt: skip
        return page, 400
    where = JobLogFilter(
        current_viewer(),
        statuses=[wanted["status"]] if wanted["status"] else (),
        job_type=wanted["job_type"] or None,
        device=wanted["device"] or None,
        since=utcnow() - PERIODS[wanted["period"]] if wanted["period"] else None,
    )
    rows, total = page_of_job_logs(
        db_session(), where, wanted["page"], PAGE_SIZE, oldest_first=wanted["order"] == "oldest"
    )
    exported = {"status": wanted["status"], "job_type": wanted["job_type"], "device": wanted["device"]}
    if where.since is not None:
        exported["since"] = where.since.isoformat()
    export_url = "/job-logs?" + urlencode({**{k: v for k, v in exported.items() if v}, "format": "csv"})
    last_page = max(1, -(-total // PAGE_SIZE))
    kept = {key: value for key, value in wanted.items() if value and key != "page"}

    def page_link(number: int) -> str:
        return "/ui/job-logs?" + urlencode({**kept, "page": number})

    pages = {
        "number": wanted["page"],
        "last": last_page,
        "total": total,
        "previous": page_link(wanted["page"] - 1) if wanted["page"] > 1 else None,
        "next": page_link(wanted["page"] + 1) if wanted["page"] < last_page else None,
    }
    return render_template(
        "ui/job_logs.html", title="Job logs", jobs=rows, wanted=wanted, job_types=job_types,
        statuses=STATUSES, periods=PERIODS, pages=pages, filtered=bool(kept.keys() - {"order"}),
        first_job_command=FIRST_JOB_COMMAND, export_url=export_url,
    )  # fmt: skip


def _notifications_for(job: JobLog, me_id: int, is_admin: bool) -> list[OutboxMessage]:
    """What was sent about the run to people: to everyone for an admin, else what the caller
    received (routes' messages are listed apart: ``_routes_told``)."""
    query = select(OutboxMessage).where(OutboxMessage.job_log_id == job.id, OutboxMessage.route_id.is_(None))
    if not is_admin:
        query = query.where(OutboxMessage.user_id == me_id)
    return list(db_session().scalars(query.order_by(OutboxMessage.created_at, OutboxMessage.id)))


def _routes_told(job: JobLog, me_id: int, is_admin: bool) -> list[RouteTold]:
    """The routes told about the run that the caller may read (an admin: all of them)."""
    session = db_session()
    told = routes_told(session, job.id)
    if is_admin or not told:
        return told
    readable = {route.id for route in visible_routes(session, me_id, is_admin)}
    return [item for item in told if item.route_id in readable]


@blp.route("/job-logs/<int:job_log_id>")
@signed_in
def job_detail(job_log_id: int) -> Any:
    me = caller()
    after = live_start()
    job = job_log_with_entries(db_session(), job_log_id)
    if job is None or not may_act_on(Resource.RUN, job.owner_id, job.team_id):
        page = render_template("ui/not_found.html", title="Not found", what=f"job log {job_log_id}")
        return page, 404
    original = db_session().get(JobLog, job.rerun_of) if job.rerun_of else None
    suppressed = suppressed_for_run(db_session(), job.id, user_id=None if me.is_admin else me.id)
    return render_template(
        "ui/job_detail.html",
        title=f"Job {job.id}",
        job=job,
        original_visible=original is not None
        and may_act_on(Resource.RUN, original.owner_id, original.team_id),
        team=db_session().get(Team, job.team_id) if job.team_id else None,
        canceled_by=_username(job.canceled_by),
        may_cancel=may_cancel(job.status)
        and may_act_on(Resource.RUN, job.owner_id, job.team_id, Action.CANCEL),
        may_rerun=may_rerun(job.status) and may_act_on(Resource.RUN, job.owner_id, job.team_id, Action.RERUN),
        notifications=_notifications_for(job, me.id, me.is_admin),
        suppressed=suppressed,
        recipients=_usernames({item.user_id for item in suppressed if item.user_id is not None}),
        routes_told=_routes_told(job, me.id, me.is_admin),
        live=live_mode(),
        live_after=after,
    )


def _usernames(user_ids: set[int]) -> dict[int, str]:
    if not user_ids:
        return {}
    return dict(
        db_session().execute(select(User.id, User.username).where(User.id.in_(user_ids))).tuples().all()
    )


def _username(user_id: int | None) -> str | None:
    user = db_session().get(User, user_id) if user_id else None
    return user.username if user else None
