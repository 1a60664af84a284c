"""Who is in which team, as the authorisation checks ask it."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.teams.models import TeamMember, TeamRole


def team_roles(session: Session, user_id: int) -> dict[int, TeamRole]:
    """The teams ``user_id`` belongs to, with the role held in each."""
    rows = session.execute(select(TeamMember.team_id, TeamMember.role).where(TeamMember.user_id == user_id))
    return {team_id: TeamRole(role) for team_id, role in rows}


def team_role(session: Session, user_id: int, team_id: int) -> TeamRole | None:
    """The role ``user_id`` holds in ``team_id``; None when not a member."""
    role = session.scalar(
        select(TeamMember.role).where(TeamMember.user_id == user_id, TeamMember.team_id == team_id)
    )
    return TeamRole(role) if role is not None else None
