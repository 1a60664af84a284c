"""Creating, renaming and deleting teams, adding and removing members: one logic for API and CLI.

The functions change the session they are given and flush; the caller commits (so a request's
change and its audit row are one transaction). Who may call them is the policy's to say
(``authorize``); the console is the operator and is not asked.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from netraven_tasks.access.policy import Action, Resource, Viewer, may, who_may
from netraven_tasks.batches.models import Batch
from netraven_tasks.models import JobLog, User
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.teams.models import Team, TeamMember, TeamRole

MAX_TEAM_ID = 2**31 - 1
TEAM_OWNED = (JobLog, Batch, Schedule)


class TeamNotFound(LookupError):
    """No such team (or member of it)."""


class TeamNameTaken(ValueError):
    """Another team has that name."""


class TeamForbidden(PermissionError):
    """The policy does not let this user do that to the team; the message says what and why."""


@dataclass(frozen=True)
class Membership:
    user_id: int
    username: str
    role: str


def find_team(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id) if 0 < team_id <= MAX_TEAM_ID else None
    if team is None:
        raise TeamNotFound(f"no team {team_id}")
    return team


def team_named(session: Session, name: str) -> Team:
    team = session.scalar(select(Team).where(Team.name == name))
    if team is None:
        raise TeamNotFound(f"no team named {name!r}")
    return team


def authorize(viewer: Viewer, action: Action, team: Team | None = None) -> None:
    """TeamForbidden unless the policy lets ``viewer`` do ``action`` to ``team`` (None: to teams
    in general, e.g. create one)."""
    if not may(viewer, Resource.TEAM, action, team_id=team.id if team is not None else None):
        what = f"team {team.name!r}" if team is not None else "teams"
        raise TeamForbidden(
            f"{what}: only {who_may(Resource.TEAM, action)} may {action.value.replace('_', ' ')}"
        )


def list_teams(session: Session) -> list[Team]:
    return list(session.scalars(select(Team).order_by(Team.name)))


def member_counts(session: Session, team_ids: Sequence[int]) -> dict[int, int]:
    query = (
        select(TeamMember.team_id, func.count())
        .where(TeamMember.team_id.in_(list(team_ids)))
        .group_by(TeamMember.team_id)
    )
    return {team_id: count for team_id, count in session.execute(query)}


def members(session: Session, team_id: int) -> list[Membership]:
    query = (
        select(TeamMember.user_id, User.username, TeamMember.role)
        .join(User, User.id == TeamMember.user_id)
        .where(TeamMember.team_id == team_id)
        .order_by(User.username)
    )
    return [Membership(user_id, username, role) for user_id, username, role in session.execute(query)]


def _ensure_name_free(session: Session, name: str, team_id: int | None = None) -> None:
    query = select(Team.id).where(Team.name == name)
    if team_id is not None:
        query = query.where(Team.id != team_id)
    if session.scalar(query) is not None:
        raise TeamNameTaken(f"name: a team named {name!r} exists already")


def create_team(session: Session, name: str, description: str = "") -> Team:
    _ensure_name_free(session, name)
    team = Team(name=name, description=description)
    session.add(team)
    session.flush()
    return team


def change_team(session: Session, team: Team, changes: dict[str, Any]) -> Team:
    """Rename it or change its description (``changes``: either or both)."""
    if "name" in changes:
        _ensure_name_free(session, changes["name"], team.id)
        team.name = changes["name"]
    if "description" in changes:
        team.description = changes["description"]
    session.flush()
    return team


def delete_team(session: Session, team: Team) -> None:
    """Delete the team; its runs, batches and schedules stay with their owners (team_id NULL:
    PostgreSQL's foreign keys do it, SQLite's tables have none, so it is done here for both)."""
    for table in TEAM_OWNED:
        session.execute(
            update(table)
            .where(table.team_id == team.id)
            .values(team_id=None)
            .execution_options(synchronize_session=False)
        )
    session.execute(delete(TeamMember).where(TeamMember.team_id == team.id))
    session.delete(team)
    session.flush()


def set_member(session: Session, team: Team, user_id: int, role: TeamRole) -> TeamMember:
    """Add ``user_id`` to the team with ``role``, or change the role they hold."""
    if session.get(User, user_id) is None:
        raise TeamNotFound(f"no user {user_id}")
    member = session.get(TeamMember, (team.id, user_id))
    if member is None:
        member = TeamMember(team_id=team.id, user_id=user_id, role=role.value)
        session.add(member)
    else:
        member.role = role.value
    session.flush()
    return member


def remove_member(session: Session, team: Team, user_id: int) -> None:
    member = session.get(TeamMember, (team.id, user_id))
    if member is None:
        raise TeamNotFound(f"user {user_id} is not a member of team {team.name!r}")
    session.delete(member)
    session.flush()


def rerun_team(viewer: Viewer, team_id: int | None) -> int | None:
    """The team a re-run keeps: the original's, when the one re-running it may launch into it."""
    if team_id is None or not may(viewer, Resource.TEAM, Action.LAUNCH, team_id=team_id):
        return None
    return team_id


def launch_team(session: Session, viewer: Viewer, team_id: int | None) -> int | None:
    """The team a new run, batch or schedule of ``viewer`` may carry: None, or a team they are in
    (admins: any). An unknown team is a ValidationError naming ``team_id`` (422), a team the
    viewer is not in TeamForbidden (403)."""
    if team_id is None:
        return None
    try:
        team = find_team(session, team_id)
    except TeamNotFound:
        raise ValidationError({"team_id": [f"no team {team_id}"]}) from None
    if not may(viewer, Resource.TEAM, Action.LAUNCH, team_id=team.id):
        raise TeamForbidden(f"team_id: you are not a member of team {team.id} ({team.name!r})")
    return team.id
