"""``db``, ``users``, ``token`` and ``tokens``: the schema, the accounts, their bearer tokens and
personal access tokens."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from sqlalchemy import select

from netraven_tasks.access.models import PersonalAccessToken
from netraven_tasks.access.tokens import (
    MAX_DAYS,
    AccessTokenError,
    create_access_token,
    revoke_access_token,
    token_state,
)
from netraven_tasks.auth import issue_token
from netraven_tasks.cli.common import CommandError, redact
from netraven_tasks.db import session_factory
from netraven_tasks.migrate import downgrade, upgrade
from netraven_tasks.settings import Settings
from netraven_tasks.users import (
    UserError,
    activate_user,
    create_user,
    deactivate_user,
    find_user,
    list_users,
    set_password,
)


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> None:
    upgrade(settings.database_url, args.revision)
    print(f"database {redact(settings.database_url)} upgraded to {args.revision}")


def cmd_db_downgrade(settings: Settings, args: argparse.Namespace) -> None:
    downgrade(settings.database_url, args.revision)
    print(f"database {redact(settings.database_url)} downgraded to {args.revision}")


def cmd_users_create(settings: Settings, args: argparse.Namespace) -> None:
    password = sys.stdin.readline().rstrip("\n") if args.password_stdin else None
    if args.password_stdin and not password:
        raise CommandError("--password-stdin given but standard input had no password")
    # security: a user made without --password-stdin has no password and cannot sign in
    try:
        with session_factory(settings).begin() as session:
            user = create_user(session, args.name, args.email, password, is_admin=args.admin)
            print(f"created {'admin' if user.is_admin else 'user'} {user.username} (id {user.id})")
    except UserError as error:
        raise CommandError(str(error)) from None


def _read_password() -> str:
    password = sys.stdin.readline().rstrip("\n")
    if not password:
        raise CommandError("standard input had no password (give it on one line)")
    return password


def cmd_users_set_password(settings: Settings, args: argparse.Namespace) -> None:
    password = _read_password()
    try:
        with session_factory(settings).begin() as session:
            user = set_password(session, args.name, password)
            print(f"password of {user.username} changed; tokens issued before no longer work")
    except UserError as error:
        raise CommandError(str(error)) from None


def cmd_users_deactivate(settings: Settings, args: argparse.Namespace) -> None:
    try:
        with session_factory(settings).begin() as session:
            user = deactivate_user(session, args.name)
            print(f"deactivated {user.username}; tokens issued before no longer work, schedules paused")
    except UserError as error:
        raise CommandError(str(error)) from None
    # After the commit above, so nothing new can be queued as the user while their pending runs
    # are canceled. lazy: builds the Celery app, through which the revokes go.
    from netraven_tasks.celery_app import app

    # lazy: the job actions import the launcher; `db upgrade` must not need it.
    from netraven_tasks.jobs.actions import cancel_pending_runs

    with session_factory(settings)() as session:
        canceled = cancel_pending_runs(session, user.id, f"the deactivation of {user.username}", app)
    print(f"canceled {canceled} queued or retrying run(s) of {user.username}")


def cmd_users_activate(settings: Settings, args: argparse.Namespace) -> None:
    try:
        with session_factory(settings).begin() as session:
            user = activate_user(session, args.name)
            print(f"activated {user.username}; their paused schedules stay paused until resumed")
    except UserError as error:
        raise CommandError(str(error)) from None


def cmd_users_list(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        for user in list_users(session):
            role = "admin" if user.is_admin else "user"
            state = "active" if user.active else "deactivated"
            print(f"{user.id}\t{user.username}\t{user.email}\t{role}\t{state}")


def cmd_token(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        user = find_user(session, args.name)
        if user is None or not user.active:
            raise CommandError(f"no active user named {args.name!r}")
        try:
            print(issue_token(user, settings, args.ttl))
        except ValueError as error:  # --ttl out of range
            raise CommandError(str(error)) from None


def _active_user(session: Any, name: str) -> Any:
    user = find_user(session, name)
    if user is None or not user.active:
        raise CommandError(f"no active user named {name!r}")
    return user


def cmd_tokens_create(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings).begin() as session:
        user = _active_user(session, args.user)
        try:
            made = create_access_token(session, user, args.name, args.days)
        except AccessTokenError as error:
            raise CommandError(f"{error.field}: {error}") from None
        print(made.secret)
        print(
            f"personal access token {made.row.id} {made.row.name!r} of {user.username}, until "
            f"{made.row.expires_at:%Y-%m-%d %H:%M} UTC; shown this once only",
            file=sys.stderr,
        )


def cmd_tokens_list(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        user = _active_user(session, args.user)
        for token in session.scalars(
            select(PersonalAccessToken)
            .where(PersonalAccessToken.user_id == user.id)
            .order_by(PersonalAccessToken.id)
        ):
            used = f"{token.last_used_at:%Y-%m-%d %H:%M}" if token.last_used_at else "never used"
            print(f"{token.id}\t{token.name}\t{token.shown_prefix}…\t{token_state(token)}\t"
                  f"expires {token.expires_at:%Y-%m-%d}\t{used}")  # fmt: skip


def cmd_tokens_revoke(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings).begin() as session:
        user = _active_user(session, args.user)
        token = session.get(PersonalAccessToken, args.id) if 0 < args.id < 2**31 else None
        if token is None or token.user_id != user.id:
            raise CommandError(f"no token {args.id} of {user.username}")
        revoke_access_token(session, token)
        print(f"revoked token {token.id} {token.name!r} of {user.username}")


def _command(
    commands: Any, name: str, help_text: str, func: Any, *positional: str
) -> argparse.ArgumentParser:
    """The sub-command ``name`` running ``func``, with its positional arguments."""
    parser: argparse.ArgumentParser = commands.add_parser(name, help=help_text)
    for argument in positional:
        parser.add_argument(argument)
    parser.set_defaults(func=func)
    return parser


def add_commands(commands: Any) -> None:
    """``db upgrade|downgrade``, ``users create|set-password|deactivate|activate|list``, ``token``,
    ``tokens create|list|revoke``."""
    db = commands.add_parser("db", help="database schema (Alembic)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    _command(db_commands, "upgrade", "migrate to the newest schema", cmd_db_upgrade).add_argument(
        "revision", nargs="?", default="head"
    )
    _command(db_commands, "downgrade", "migrate back to REVISION", cmd_db_downgrade, "revision")

    users = commands.add_parser("users", help="manage users")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    create = _command(user_commands, "create", "create a user", cmd_users_create, "name")
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true")
    create.add_argument("--password-stdin", action="store_true", help="read a password from stdin")
    # security: account life cycle
    set_help = "set NAME's password from stdin; revokes tokens"
    _command(user_commands, "set-password", set_help, cmd_users_set_password, "name")
    _command(user_commands, "deactivate", "deactivate NAME; revokes tokens", cmd_users_deactivate, "name")
    _command(user_commands, "activate", "let NAME sign in again", cmd_users_activate, "name")
    user_commands.add_parser("list", help="list users").set_defaults(func=cmd_users_list)

    token = commands.add_parser("token", help="print a bearer token for user NAME")
    token.add_argument("name")
    token.add_argument(
        "--ttl",
        type=int,
        default=None,
        help="seconds the token is valid (60 to 7776000)",
    )
    token.set_defaults(func=cmd_token)

    tokens = commands.add_parser("tokens", help="personal access tokens of a user")
    token_commands = tokens.add_subparsers(dest="tokens_command", required=True)
    create_token = _command(
        token_commands, "create", "make a token for USER; prints it once", cmd_tokens_create, "user"
    )
    create_token.add_argument("--name", required=True, help="what the token is for")
    create_token.add_argument("--days", type=int, default=90, help=f"days it is valid (1 to {MAX_DAYS})")
    _command(token_commands, "list", "list USER's tokens", cmd_tokens_list, "user")
    revoke = _command(token_commands, "revoke", "revoke token ID of USER", cmd_tokens_revoke, "user")
    revoke.add_argument("id", type=int)
