"""Dashboard pages of teams: the list (admins create one there) and one team with its members
(its managers and admins add and remove them). The forms post to the API (``api.teams``), so the
pages and the API cannot disagree about who may do what."""

from __future__ import annotations

from typing import Any

from flask import render_template
from sqlalchemy import select

from api.context import db_session
from api.security import current_viewer
from api.ui.blueprint import blp
from api.ui.session import signed_in
from netraven_tasks.access.policy import Action, Resource, may
from netraven_tasks.models import User
from netraven_tasks.teams.models import TeamRole
from netraven_tasks.teams.service import TeamNotFound, find_team, list_teams, member_counts, members


@blp.route("/teams")
@signed_in
def teams() -> str:
    session, viewer = db_session(), current_viewer()
    rows = list_teams(session)
    counts = member_counts(session, [team.id for team in rows])
    listed = [
        {"team": team, "members": counts.get(team.id, 0), "role": viewer.teams.get(team.id)} for team in rows
    ]
    return render_template(
        "ui/teams.html", title="Teams", teams=listed, may_create=may(viewer, Resource.TEAM, Action.CREATE)
    )


@blp.route("/teams/<int:team_id>")
@signed_in
def team_detail(team_id: int) -> Any:
    session, viewer = db_session(), current_viewer()
    try:
        team = find_team(session, team_id)
    except TeamNotFound:
        return render_template("ui/not_found.html", title="Not found", what=f"team {team_id}"), 404
    if not may(viewer, Resource.TEAM, Action.VIEW, team_id=team.id):
        what = "only a team's members see who is in it"
        page = render_template("ui/forbidden.html", title="Forbidden", what=what)
        return page, 403
    may_manage = may(viewer, Resource.TEAM, Action.MANAGE_MEMBERS, team_id=team.id)
    listed = members(session, team.id)
    inside = {member.user_id for member in listed}
    candidates: list[tuple[int, str]] = []
    if may_manage:  # who can be added: everyone not in it yet
        users = session.execute(select(User.id, User.username).order_by(User.username))
        candidates = [(user_id, name) for user_id, name in users if user_id not in inside]
    return render_template(
        "ui/team_detail.html", title=f"Team {team.name}", team=team, members=listed, may_manage=may_manage,
        candidates=candidates, roles=[role.value for role in TeamRole],
    )  # fmt: skip
