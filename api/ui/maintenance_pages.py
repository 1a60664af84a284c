"""The dashboard's Maintenance page: active, upcoming and past windows; admins create and end them
(the page's script calls the API with the session cookie)."""

from __future__ import annotations

from typing import Any

from flask import render_template

from api.context import db_session
from api.ui.blueprint import blp
from api.ui.session import caller, signed_in
from netraven_tasks.maintenance.windows import WindowState, describe, list_windows
from netraven_tasks.models import utcnow

SHOWN = 50  # per state; the API pages through more


@blp.route("/maintenance")
@signed_in
def maintenance() -> Any:
    session, now = db_session(), utcnow()
    sections = []
    for state, heading in (
        (WindowState.ACTIVE, "Active"),
        (WindowState.UPCOMING, "Upcoming"),
        (WindowState.ENDED, "Past"),
    ):
        windows, total = list_windows(session, now, state, SHOWN, 0)
        sections.append(
            {
                "state": state.value,
                "heading": heading,
                "windows": describe(session, windows, now),
                "total": total,
            }
        )
    return render_template(
        "ui/maintenance.html", title="Maintenance", sections=sections, may_write=caller().is_admin
    )
