"""The dashboard's routes page: the routes the caller may read, each with its channel, match and
last delivery; admins and team managers make and delete routes through the API (``/routes``)."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from api.context import db_session
from api.ui.blueprint import blp
from api.ui.session import caller, signed_in
from netraven_tasks.routes.editing import describe, visible_routes
from netraven_tasks.routes.history import last_deliveries
from netraven_tasks.routes.matching import ROUTE_EVENTS
from netraven_tasks.routes.targets import route_channels
from netraven_tasks.teams.membership import team_roles
from netraven_tasks.teams.models import Team, TeamRole


@blp.route("/routes")
@signed_in
def routes() -> Any:
    me = caller()
    session = db_session()
    shown = visible_routes(session, me.id, me.is_admin)
    roles = team_roles(session, me.id)
    managed = {team_id for team_id, role in roles.items() if role is TeamRole.MANAGER}
    teams = {team_id: name for team_id, name in session.execute(select(Team.id, Team.name))}
    rows = [
        {
            **describe(route),
            "team": teams.get(route.team_id, "") if route.team_id else "admins",
            "editable": me.is_admin or route.team_id in managed,
        }
        for route in shown
    ]
    return render_template(
        "ui/routes.html",
        title="Routes",
        routes=rows,
        last=last_deliveries(session, [route.id for route in shown]),
        may_create=me.is_admin or bool(managed),
        team_choices=sorted((teams[t], t) for t in (teams if me.is_admin else managed) if t in teams),
        is_admin=me.is_admin,
        channels=route_channels(),
        events=ROUTE_EVENTS,
    )
