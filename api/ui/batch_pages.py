"""Dashboard pages of fleet runs: the batches the caller may see, and one batch with its children.

Both read through the API's own queries (``netraven_tasks.batches.queries``), so a page and
``GET /batches`` cannot disagree about who sees what: another user's batch is the not-found page.
Cancel and Re-run failed are the API's endpoints, posted by the page's script with the CSRF token.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from urllib.parse import urlencode

from flask import render_template, request
from marshmallow import Schema, fields, validate
from sqlalchemy import select

from api.context import db_session
from api.security import current_viewer, may_act_on
from api.ui.blueprint import blp
from api.ui.filters import FilterError, load_filters
from api.ui.job_pages import live_mode, live_start
from api.ui.paging import MAX_PAGE, pager, window
from api.ui.session import signed_in
from netraven_tasks.access.policy import Action, Resource
from netraven_tasks.batches.models import ACTIVE_COUNTERS, COUNTED, Batch, BatchStatus
from netraven_tasks.batches.queries import (
    CHILD_ORDERS,
    MAX_BATCH_ID,
    BatchNotFound,
    batch_page,
    children_page,
    visible_batch,
)
from netraven_tasks.models import User
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.teams.models import Team

PAGE_SIZE = 25
CHILDREN_PAGE_SIZE = 100
MAX_ID_DIGITS = len(str(MAX_BATCH_ID))
# The progress bar's segments, left to right: the children that are over, by status.
OVER = tuple(status for status in COUNTED if status not in ACTIVE_COUNTERS)


class BatchPageSchema(Schema):
    """The pages' own parameters: which page, and the order of a batch's children."""

    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))
    sort = fields.String(load_default="device", validate=validate.OneOf(list(CHILD_ORDERS)))


def children_over(batch: Batch) -> int:
    """How many children are over: this only grows, which lets the page's script drop stale rows."""
    return batch.total - sum(getattr(batch, status) for status in ACTIVE_COUNTERS)


def percent_done(batch: Batch) -> int:
    """Whole percent of the children that are over: 100 only once none is left to run (never
    rounded up to it, as ``progress`` can be for a batch of more than 10,000)."""
    return children_over(batch) * 100 // batch.total if batch.total else 100


def bar_segments(batch: Batch) -> list[dict[str, Any]]:
    """Where each segment of the progress bar starts and how wide it is, in percent of the total
    (the page's script redraws them from a live row the same way)."""
    segments, start = [], 0.0
    for status in OVER:
        width = getattr(batch, status) * 100 / batch.total if batch.total else 0.0
        segments.append({"status": status, "x": round(start, 3), "width": round(width, 3)})
        start += width
    return segments


def usernames(user_ids: Iterable[int | None]) -> dict[int, str]:
    """The names of the given users, in one query."""
    wanted = {user_id for user_id in user_ids if user_id is not None}
    if not wanted:
        return {}
    rows = db_session().execute(select(User.id, User.username).where(User.id.in_(wanted)))
    return {user_id: name for user_id, name in rows}


def _batch_number(text: str) -> int | None:
    """The id in the path, or None when it cannot be one: not ASCII digits, or longer than any
    BIGINT (``visible_batch`` refuses the rest of that range)."""
    return int(text) if text.isascii() and text.isdigit() and len(text) <= MAX_ID_DIGITS else None


def _not_found(batch_id: str) -> tuple[str, int]:
    what = f"batch {batch_id}" if _batch_number(batch_id) is not None else "such batch"
    return render_template("ui/not_found.html", title="Not found", what=what), 404


@blp.route("/batches")
@signed_in
def batches() -> Any:
    after = live_start()
    try:
        number = load_filters(BatchPageSchema, ("page",), request.args)["page"]
    except FilterError as error:
        page = render_template("ui/batches.html", title="Batches", error=str(error), batches=[], pages=None)
        return page, 400
    rows, total = batch_page(db_session(), current_viewer(), *window(number, PAGE_SIZE))
    owners = usernames(batch.owner_id for batch in rows)
    listed = [
        {
            "batch": batch,
            "done": children_over(batch),
            "percent": percent_done(batch),
            "segments": bar_segments(batch),
            "owner_name": owners.get(batch.owner_id or 0),
        }
        for batch in rows
    ]
    return render_template(
        "ui/batches.html", title="Batches", batches=listed, error=None, live=live_mode(), live_after=after,
        pages=pager(number, total, PAGE_SIZE, lambda to: "/ui/batches?" + urlencode({"page": to})),
    )  # fmt: skip


def _actions(batch: Batch) -> dict[str, bool]:
    """Which buttons the page has (as the policy says), and which of them show now (the status
    decides; the page's script follows it live)."""
    may_cancel = may_act_on(Resource.BATCH, batch.owner_id, batch.team_id, Action.CANCEL)
    may_rerun = may_act_on(Resource.BATCH, batch.owner_id, batch.team_id, Action.RERUN)
    over = batch.status != BatchStatus.RUNNING.value
    return {
        "may_act": may_cancel or may_rerun,
        "cancel_shown": may_cancel and not over,
        "rerun_failed_shown": may_rerun and over and batch.failed > 0,
    }


def _origin(batch: Batch) -> dict[str, Any] | None:
    """The batch this one re-runs, linked when the caller may see it."""
    if batch.rerun_of is None:
        return None
    original = db_session().get(Batch, batch.rerun_of)
    visible = original is not None and may_act_on(Resource.BATCH, original.owner_id, original.team_id)
    return {"id": batch.rerun_of, "visible": visible}


def _children(batch: Batch, wanted: dict[str, Any]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """A page of the children (``CHILDREN_PAGE_SIZE``) in the wanted order, and the pager."""
    rows = children_page(db_session(), batch.id, wanted["sort"], *window(wanted["page"], CHILDREN_PAGE_SIZE))
    children = [
        {**row._asdict(), "error_line": (row.error_message or "").strip().split("\n", 1)[0]} for row in rows
    ]

    def link(to: int) -> str:
        return f"/ui/batches/{batch.id}?" + urlencode({"sort": wanted["sort"], "page": to})

    return children, pager(wanted["page"], batch.total, CHILDREN_PAGE_SIZE, link)


@blp.route("/batches/<string:batch_id>")
@signed_in
def batch_detail(batch_id: str) -> Any:
    after = live_start()
    session = db_session()
    number = _batch_number(batch_id)
    try:
        if number is None:
            raise BatchNotFound(batch_id)
        batch = visible_batch(session, number, current_viewer())
    except BatchNotFound:
        return _not_found(batch_id)
    try:
        wanted = load_filters(BatchPageSchema, ("page", "sort"), request.args)
        error = None
    except FilterError as refused:
        wanted, error = BatchPageSchema().load({}), str(refused)
    children, pages = _children(batch, wanted) if error is None else ([], None)
    names = usernames([batch.owner_id, batch.canceled_by])
    page = render_template(
        "ui/batch_detail.html",
        title=f"Batch {batch.id}",
        batch=batch,
        done=children_over(batch),
        percent=percent_done(batch),
        segments=bar_segments(batch),
        owner_name=names.get(batch.owner_id or 0),
        canceled_by=names.get(batch.canceled_by or 0),
        schedule=session.get(Schedule, batch.schedule_id) if batch.schedule_id else None,
        origin=_origin(batch),
        team=session.get(Team, batch.team_id) if batch.team_id else None,
        children=children,
        pages=pages,
        wanted=wanted,
        sorts=list(CHILD_ORDERS),
        error=error,
        live=live_mode(),
        live_after=after,
        **_actions(batch),
    )
    return page, 400 if error else 200
