"""Teams: ``GET|POST /teams``, ``GET|PATCH|DELETE /teams/{team_id}`` and
``PUT|DELETE /teams/{team_id}/members/{user_id}``.

Every signed-in user lists the teams (names, sizes, their own role); a team's members and admins
see its member list; its managers and admins rename it and manage its members; admins create and
delete teams (``netraven_tasks.access.policy``). Views authorise, call ``netraven_tasks.teams.
service`` and commit; its errors answer through ``api.error_map``.
"""

from __future__ import annotations

from typing import Any

from flask import url_for
from flask.views import MethodView
from marshmallow import Schema, fields, validate

from api.context import db_session
from api.json_body import Blueprint
from api.security import MAX_USER_ID, current_viewer, errors, protect
from netraven_tasks.access.policy import Action
from netraven_tasks.input_schema import InputSchema
from netraven_tasks.teams.models import Team, TeamRole
from netraven_tasks.teams.service import (
    TeamNotFound,
    authorize,
    change_team,
    create_team,
    delete_team,
    find_team,
    list_teams,
    member_counts,
    members,
    remove_member,
    set_member,
)

blp = protect(Blueprint("teams", __name__, url_prefix="/teams", description="Teams and their members"))

ROLES = [role.value for role in TeamRole]
NAME = validate.Length(min=1, max=100)


class TeamBodySchema(InputSchema):
    name = fields.String(required=True, validate=NAME)
    description = fields.String(load_default="", validate=validate.Length(max=2000))


class TeamChangesSchema(InputSchema):
    name = fields.String(validate=NAME)
    description = fields.String(validate=validate.Length(max=2000))


class MemberBodySchema(InputSchema):
    role = fields.String(
        load_default=TeamRole.MEMBER.value,
        validate=validate.OneOf(ROLES, error="must be one of: {choices}"),
        metadata={"description": "member (default) or manager"},
    )


class MemberSchema(Schema):
    user_id = fields.Integer(required=True)
    username = fields.String(required=True)
    role = fields.String(required=True, validate=validate.OneOf(ROLES))


class TeamSchema(Schema):
    id = fields.Integer(required=True)
    name = fields.String(required=True)
    description = fields.String(required=True)
    created_at = fields.DateTime(required=True)
    member_count = fields.Integer(required=True)
    my_role = fields.String(allow_none=True, metadata={"description": "your role in it; null: not a member"})


class TeamDetailSchema(TeamSchema):
    members = fields.List(fields.Nested(MemberSchema), required=True)


def _describe(team: Team, count: int) -> dict[str, Any]:
    role = current_viewer().teams.get(team.id)
    return {
        "id": team.id,
        "name": team.name,
        "description": team.description,
        "created_at": team.created_at,
        "member_count": count,
        "my_role": role.value if role is not None else None,
    }


def _detail(team: Team) -> dict[str, Any]:
    listed = members(db_session(), team.id)
    return {**_describe(team, len(listed)), "members": [vars(member) for member in listed]}


def _team(team_id: int) -> Team:
    return find_team(db_session(), team_id)


def _user_id(text: str) -> int:
    if text.isascii() and text.isdigit() and 0 < int(text) <= MAX_USER_ID:  # not '²' or '٣'
        return int(text)
    raise TeamNotFound(f"user_id: no user {text[:20]!r}")


@blp.route("")
class Teams(MethodView):
    @blp.response(200, TeamSchema(many=True))
    @errors(blp, 401)
    def get(self) -> list[dict[str, Any]]:
        """Every team by name, with its size and your role in it."""
        session = db_session()
        teams = list_teams(session)
        counts = member_counts(session, [team.id for team in teams])
        return [_describe(team, counts.get(team.id, 0)) for team in teams]

    @blp.arguments(TeamBodySchema, example={"name": "NOC Frankfurt", "description": "site FRA"})
    @blp.response(201, TeamDetailSchema, headers={"Location": {"schema": {"type": "string"}}})
    @errors(blp, 401, 403, 409, 422)
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int, dict[str, str]]:
        """Create a team (admins); add its members with PUT /teams/{team_id}/members/{user_id}."""
        authorize(current_viewer(), Action.CREATE)
        session = db_session()
        team = create_team(session, body["name"], body["description"])
        session.commit()
        return _detail(team), 201, {"Location": url_for("teams.TeamDetail", team_id=team.id)}


@blp.route("/<int:team_id>")
class TeamDetail(MethodView):
    @blp.response(200, TeamDetailSchema)
    @errors(blp, 401, 403, 404)
    def get(self, team_id: int) -> dict[str, Any]:
        """One team with its members and their roles (its members and admins)."""
        team = _team(team_id)
        authorize(current_viewer(), Action.VIEW, team)
        return _detail(team)

    @blp.arguments(TeamChangesSchema, example={"name": "NOC FRA"})
    @blp.response(200, TeamDetailSchema)
    @errors(blp, 401, 403, 404, 409, 422)
    def patch(self, body: dict[str, Any], team_id: int) -> dict[str, Any]:
        """Rename the team or change its description (its managers and admins)."""
        team = _team(team_id)
        authorize(current_viewer(), Action.EDIT, team)
        session = db_session()
        change_team(session, team, body)
        session.commit()
        return _detail(team)

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, team_id: int) -> None:
        """Delete the team (admins); its runs, batches and schedules stay with their owners."""
        team = _team(team_id)
        authorize(current_viewer(), Action.DELETE, team)
        session = db_session()
        delete_team(session, team)
        session.commit()


@blp.route("/<int:team_id>/members/<string:user_id>")
class TeamMemberDetail(MethodView):
    @blp.arguments(MemberBodySchema, example={"role": "manager"})
    @blp.response(200, MemberSchema)
    @errors(blp, 401, 403, 404, 422)
    def put(self, body: dict[str, Any], team_id: int, user_id: str) -> dict[str, Any]:
        """Add the user to the team with the role, or change their role (its managers and admins)."""
        team = _team(team_id)
        authorize(current_viewer(), Action.MANAGE_MEMBERS, team)
        session = db_session()
        member = set_member(session, team, _user_id(user_id), TeamRole(body["role"]))
        session.commit()
        [added] = [row for row in members(session, team.id) if row.user_id == member.user_id]
        return vars(added)

    @blp.response(204)
    @errors(blp, 401, 403, 404)
    def delete(self, team_id: int, user_id: str) -> None:
        """Take the user out of the team (its managers and admins)."""
        team = _team(team_id)
        authorize(current_viewer(), Action.MANAGE_MEMBERS, team)
        session = db_session()
        remove_member(session, team, _user_id(user_id))
        session.commit()
