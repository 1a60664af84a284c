"""Dashboard pages for looking at the whole: Statistics; for admins Workers (from Celery's inspect)
and the audit log."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from flask import render_template, request

from api.audit import AuditQuerySchema, audit_events
from api.context import db_session
from api.security import visible_owner
from api.statistics import StatisticsQuerySchema
from api.ui.blueprint import blp
from api.ui.chart import STACK_ORDER, stacked_bars
from api.ui.filters import FilterError, load_filters
from api.ui.session import caller, signed_in
from netraven_tasks.models import utcnow
from netraven_tasks.runtime import runtime_of
from netraven_tasks.statistics import DEFAULT_PERIOD, PERIODS, compute_statistics, make_window

log = logging.getLogger(__name__)
INSPECT_TIMEOUT = 1.0


def _bucket_label(period: str) -> Any:
    def label(start: datetime) -> str:
        return start.strftime("%H:%M" if period in ("hour", "day") else "%m-%d")

    return label


@blp.route("/statistics")
@signed_in
def statistics() -> Any:
    try:
        query = load_filters(StatisticsQuerySchema, ("time_period",), request.args, {"period": "time_period"})
    except FilterError as error:
        return render_template(
            "ui/statistics.html",
            title="Statistics",
            error=str(error),
            periods=PERIODS,
            period=DEFAULT_PERIOD,
            stats=None,
        ), 400
    period = query.get("time_period", DEFAULT_PERIOD)
    window = make_window(utcnow(), period, owner_id=visible_owner(caller(), None))
    stats = compute_statistics(db_session(), window)
    chart = stacked_bars(stats["series"], _bucket_label(period))
    return render_template(
        "ui/statistics.html", title="Statistics", periods=PERIODS, period=period, stats=stats,
        chart=chart, statuses=STACK_ORDER, export_url=f"/job-logs/statistics?time_period={period}&format=csv",
    )  # fmt: skip


def inspect_workers() -> dict[str, Any] | None:
    """Online workers with their active jobs and queues; None if the broker cannot broadcast."""
    try:
        inspector = runtime_of().app.control.inspect(timeout=INSPECT_TIMEOUT)
        stats = inspector.stats() or {}
        active = inspector.active() or {}
        queues = inspector.active_queues() or {}
    except Exception:  # the embedded SQL broker has no broadcast; a broker outage is the same to us
        log.info("celery inspect is unavailable", exc_info=True)
        return None
    workers = []
    for name in sorted(set(stats) | set(active)):
        info = stats.get(name, {})
        pool = info.get("pool", {}) if isinstance(info, dict) else {}
        workers.append(
            {
                "name": name,
                "concurrency": pool.get("max-concurrency") if isinstance(pool, dict) else None,
                "active": active.get(name, []),
                "queues": sorted(q.get("name", "?") for q in queues.get(name, []) if isinstance(q, dict)),
            }
        )
    return {"workers": workers}


@blp.route("/workers")
@signed_in
def workers() -> Any:
    if not caller().is_admin:
        return render_template(
            "ui/forbidden.html", title="Workers", what="the workers page is for admins"
        ), 403
    return render_template("ui/workers.html", title="Workers", found=inspect_workers())


AUDIT_FILTERS = ("actor", "action", "target_type")


@blp.route("/audit")
@signed_in
def audit() -> Any:
    """The audit log, newest first, with the API's filters (``GET /audit``)."""
    if not caller().is_admin:
        return render_template(
            "ui/forbidden.html", title="Audit log", what="the audit log is for admins"
        ), 403
    filters = {key: request.args.get(key, "").strip() for key in AUDIT_FILTERS}
    try:
        query = load_filters(AuditQuerySchema, AUDIT_FILTERS, request.args)
    except FilterError as error:
        page = render_template(
            "ui/audit.html", title="Audit log", events=[], filters=filters, error=str(error)
        )
        return page, 400
    return render_template("ui/audit.html", title="Audit log", events=audit_events(**query), filters=filters)
