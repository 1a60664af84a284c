"""``netraven-tasks teams list|create|delete|add|remove``: teams and their members from a shell.

The console is the operator: it is not asked the policy, and changes what the API's admins may.
Each command validates as the API does (``netraven_tasks.teams.service``) and prints what it did.
"""

from __future__ import annotations

import argparse
from typing import Any

from sqlalchemy.orm import Session

from netraven_tasks.access.policy import viewer_of
from netraven_tasks.cli.common import CommandError
from netraven_tasks.db import session_factory
from netraven_tasks.models import User
from netraven_tasks.settings import Settings
from netraven_tasks.teams.models import Team, TeamRole
from netraven_tasks.teams.service import (
    TeamForbidden,
    TeamNameTaken,
    TeamNotFound,
    create_team,
    delete_team,
    launch_team,
    list_teams,
    members,
    remove_member,
    set_member,
    team_named,
)
from netraven_tasks.users import find_user

MAX_NAME = 100


def launch_team_of(settings: Settings, name: str | None, owner: User | None) -> int | None:
    """The id of the team named ``name`` (None: no team) for ``run --team`` and ``schedules add
    --team``; an owner (``--owner``) must be in it, as in the API (the console itself may pick any)."""
    if name is None:
        return None
    with session_factory(settings)() as session:
        try:
            team = team_named(session, name)
            if owner is not None:
                launch_team(session, viewer_of(session, owner.id, bool(owner.is_admin)), team.id)
        except (TeamNotFound, TeamForbidden) as error:
            raise CommandError(str(error).removeprefix("team_id: ")) from None
        return team.id


def _team(session: Session, name: str) -> Team:
    try:
        return team_named(session, name)
    except TeamNotFound as error:
        raise CommandError(str(error)) from None


def _user(session: Session, name: str) -> User:
    user = find_user(session, name)
    if user is None:
        raise CommandError(f"no user named {name!r}")
    return user


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        teams = list_teams(session)
        for team in teams:
            listed = ", ".join(f"{m.username} ({m.role})" for m in members(session, team.id)) or "no members"
            print(f"{team.id:>5}  {team.name}: {listed}")
    print(f"{len(teams)} team(s)")


def cmd_create(settings: Settings, args: argparse.Namespace) -> None:
    if not 0 < len(args.name) <= MAX_NAME:
        raise CommandError(f"NAME must be 1 to {MAX_NAME} characters")
    with session_factory(settings).begin() as session:
        try:
            team = create_team(session, args.name, args.description)
        except TeamNameTaken as error:
            raise CommandError(str(error)) from None
        print(f"created team {team.id}: {team.name}")


def cmd_delete(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings).begin() as session:
        delete_team(session, _team(session, args.name))
    print(f"deleted team {args.name} (its runs, batches and schedules stay with their owners)")


def cmd_add(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings).begin() as session:
        set_member(session, _team(session, args.name), _user(session, args.user).id, TeamRole(args.role))
    print(f"{args.user} is a {args.role} of team {args.name}")


def cmd_remove(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings).begin() as session:
        team, user = _team(session, args.name), _user(session, args.user)
        try:
            remove_member(session, team, user.id)
        except TeamNotFound as error:
            raise CommandError(str(error)) from None
    print(f"removed {args.user} from team {args.name}")


def add_commands(commands: Any) -> None:
    """``teams list``, ``teams create NAME``, ``teams delete NAME``, ``teams add NAME USER [--role
    manager]``, ``teams remove NAME USER``."""
    teams = commands.add_parser("teams", help="teams and their members")
    sub = teams.add_subparsers(dest="teams_command", required=True, metavar="ACTION")
    sub.add_parser("list", help="every team with its members").set_defaults(func=cmd_list)
    create = sub.add_parser("create", help="create a team")
    create.add_argument("name")
    create.add_argument("--description", default="")
    create.set_defaults(func=cmd_create)
    delete = sub.add_parser("delete", help="delete a team (its runs stay with their owners)")
    delete.add_argument("name")
    delete.set_defaults(func=cmd_delete)
    add = sub.add_parser("add", help="add USER to the team, or change their role")
    add.add_argument("name")
    add.add_argument("user")
    add.add_argument("--role", choices=[role.value for role in TeamRole], default=TeamRole.MEMBER.value)
    add.set_defaults(func=cmd_add)
    remove = sub.add_parser("remove", help="take USER out of the team")
    remove.add_argument("name")
    remove.add_argument("user")
    remove.set_defaults(func=cmd_remove)
