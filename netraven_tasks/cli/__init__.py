"""The ``netraven-tasks`` command: database, users, tokens, launching jobs and running services."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from netraven_tasks import __version__
from netraven_tasks.cli import (
    accounts,
    batches,
    compliance,
    devices,
    jobs,
    maintenance,
    routes,
    services,
    teams,
    tracking,
)
from netraven_tasks.cli.common import CommandError
from netraven_tasks.cli.services import PASSTHROUGH
from netraven_tasks.private_files import ensure_private_sqlite, restrict_umask
from netraven_tasks.schedules.commands import add_commands as add_schedule_commands
from netraven_tasks.settings import Settings, SettingsError, get_settings

__all__ = ["PASSTHROUGH", "CommandError", "build_parser", "main", "missing_tables_message"]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netraven-tasks", description=__doc__)
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    accounts.add_commands(commands)  # db upgrade|downgrade, users …, token
    jobs.add_commands(commands)  # run
    services.add_celery_commands(commands)  # worker, beat
    tracking.add_commands(commands)  # recorder, tracking dead-letters
    services.add_server_commands(commands)  # flower, api, up
    add_schedule_commands(commands)  # schedules list|add|pause|resume|delete
    devices.add_commands(commands)  # devices import|list
    batches.add_commands(commands)  # batches list|show
    compliance.add_commands(commands)  # compliance show
    maintenance.add_commands(commands)  # maintenance list|create|end|delete
    teams.add_commands(commands)  # teams list|create|delete|add|remove
    routes.add_commands(commands)  # routes list|create|delete
    return parser


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in PASSTHROUGH:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.celery_args = extra
    restrict_umask()  # security: what this process and those it execs create stays private
    try:
        settings = get_settings()
        ensure_private_sqlite(settings.broker_url)  # the embedded broker's file too
        args.func(settings, args)
    except (CommandError, SettingsError) as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    except DBAPIError as error:
        if not _missing_tables(error):
            raise
        print(f"error: {missing_tables_message(get_settings())}", file=sys.stderr)
        raise SystemExit(2) from None


def _missing_tables(error: DBAPIError) -> bool:
    text = str(error.orig)
    return "no such table" in text or ("relation" in text and "does not exist" in text)


def missing_tables_message(settings: Settings) -> str:
    """Name the database that has no tables, and the two ways out."""
    url = make_url(settings.database_url).render_as_string(hide_password=True)
    return (
        f"the database {url} has no NetRaven Tasks tables. Create them with "
        "`netraven-tasks db upgrade`, or point NETRAVEN_VAR_DIR (or NETRAVEN_DATABASE_URL) at the "
        "system you meant: `scripts/up` prints the export line"
    )
