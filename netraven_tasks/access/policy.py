"""Who may do what to a run, a batch, a schedule or a team: one table, and the checks read from it.

Every decision about another person's object goes through ``may`` (one object) or
``visible_clause`` (a list query, in SQL). A user's relation to an object is what the table is
keyed by: its owner, a member or a manager of the team it carries, an admin. Anyone else gets
nothing, and the API answers 404 for an object they may not see, as if it did not exist.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from sqlalchemy import ColumnElement, false, or_, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from netraven_tasks.teams.membership import team_roles
from netraven_tasks.teams.models import TeamRole


class Resource(StrEnum):
    RUN = "run"
    BATCH = "batch"
    SCHEDULE = "schedule"
    TEAM = "team"


class Action(StrEnum):
    VIEW = "view"
    CANCEL = "cancel"
    RERUN = "rerun"
    EDIT = "edit"  # a schedule: change, pause, resume; a team: rename, describe
    DELETE = "delete"
    CREATE = "create"  # a team
    LAUNCH = "launch"  # give a new run, batch or schedule this team
    MANAGE_MEMBERS = "manage_members"


class Relation(StrEnum):
    OWNER = "owner"
    TEAM_MEMBER = "team member"
    TEAM_MANAGER = "team manager"
    ADMIN = "admin"


OWNER, MEMBER, MANAGER, ADMIN = Relation.OWNER, Relation.TEAM_MEMBER, Relation.TEAM_MANAGER, Relation.ADMIN
TEAM_WIDE = frozenset({OWNER, MEMBER, MANAGER, ADMIN})
# A team is its own team: its members relate to it as to anything the team carries.
IN_TEAM = frozenset({MEMBER, MANAGER, ADMIN})
LEADS_TEAM = frozenset({MANAGER, ADMIN})

POLICY: Mapping[tuple[Resource, Action], frozenset[Relation]] = {
    (Resource.RUN, Action.VIEW): TEAM_WIDE,
    (Resource.RUN, Action.CANCEL): TEAM_WIDE,
    (Resource.RUN, Action.RERUN): TEAM_WIDE,
    (Resource.BATCH, Action.VIEW): TEAM_WIDE,
    (Resource.BATCH, Action.CANCEL): TEAM_WIDE,
    (Resource.BATCH, Action.RERUN): TEAM_WIDE,
    (Resource.SCHEDULE, Action.VIEW): TEAM_WIDE,
    (Resource.SCHEDULE, Action.EDIT): TEAM_WIDE,
    # Deleting drops the schedule for the whole team: its owner or the team's lead decides.
    (Resource.SCHEDULE, Action.DELETE): frozenset({OWNER, MANAGER, ADMIN}),
    (Resource.TEAM, Action.VIEW): IN_TEAM,  # its member list; every signed-in user sees its name
    (Resource.TEAM, Action.LAUNCH): IN_TEAM,
    (Resource.TEAM, Action.EDIT): LEADS_TEAM,
    (Resource.TEAM, Action.MANAGE_MEMBERS): LEADS_TEAM,
    (Resource.TEAM, Action.CREATE): frozenset({ADMIN}),
    (Resource.TEAM, Action.DELETE): frozenset({ADMIN}),
}


@dataclass(frozen=True)
class Viewer:
    """A signed-in user as the policy sees them: who they are and the teams they are in."""

    user_id: int
    is_admin: bool
    teams: Mapping[int, TeamRole] = field(default_factory=dict)

    def relations(self, owner_id: int | None, team_id: int | None) -> frozenset[Relation]:
        """How this user relates to an object owned by ``owner_id`` that carries ``team_id``."""
        held: set[Relation] = set()
        if self.is_admin:
            held.add(ADMIN)
        if owner_id is not None and owner_id == self.user_id:
            held.add(OWNER)
        role = self.teams.get(team_id) if team_id is not None else None
        if role is not None:
            held.add(_relation_of(role))
        return frozenset(held)


def _relation_of(role: TeamRole) -> Relation:
    return MANAGER if role is TeamRole.MANAGER else MEMBER


def viewer_of(session: Session, user_id: int, is_admin: bool) -> Viewer:
    """The viewer of ``user_id``, with the teams they belong to now."""
    return Viewer(user_id, is_admin, team_roles(session, user_id))


def allowed(resource: Resource, action: Action) -> frozenset[Relation]:
    """The relations that grant ``action`` on ``resource`` (KeyError: not in the table, a bug)."""
    return POLICY[(resource, action)]


def who_may(resource: Resource, action: Action) -> str:
    """The table's answer in words, for an error message: ``the owner, a team manager or an admin``."""
    names = [
        f"the {r.value}" if r is OWNER else f"a {r.value}" for r in Relation if r in allowed(resource, action)
    ]
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]


def may(
    viewer: Viewer,
    resource: Resource,
    action: Action,
    owner_id: int | None = None,
    team_id: int | None = None,
) -> bool:
    """Whether ``viewer`` may do ``action`` to the object owned by ``owner_id`` carrying ``team_id``
    (a team: its own id as ``team_id``)."""
    return bool(allowed(resource, action) & viewer.relations(owner_id, team_id))


def visible_clause(
    viewer: Viewer,
    resource: Resource,
    owner_column: InstrumentedAttribute[int | None] | InstrumentedAttribute[int],
    team_column: InstrumentedAttribute[int | None],
    action: Action = Action.VIEW,
) -> ColumnElement[bool]:
    """The WHERE clause of the rows ``viewer`` may ``action``: ``owner = me OR team IN (my teams)``
    as the table grants (the team half uses the partial ``team_id`` indexes)."""
    granted = allowed(resource, action)
    if ADMIN in granted and viewer.is_admin:
        return true()
    terms: list[ColumnElement[bool]] = []
    if OWNER in granted:
        terms.append(owner_column == viewer.user_id)
    teams = sorted(team_id for team_id, role in viewer.teams.items() if _relation_of(role) in granted)
    if teams:
        terms.append(team_column.in_(teams))
    return or_(*terms) if terms else false()
