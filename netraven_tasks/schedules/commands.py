"""``netraven-tasks schedules list|add|pause|resume|delete``: the schedules from a shell.

Each sub-command validates exactly as the API does (``service``) and prints what it did.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Callable
from typing import Any

from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.cli.common import CommandError, parse_arg
from netraven_tasks.cli.teams import launch_team_of
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch_roles import LaunchForbidden
from netraven_tasks.models import utcnow
from netraven_tasks.quotas import QuotaExceeded, ensure_schedule_quota
from netraven_tasks.schedules.models import Schedule
from netraven_tasks.schedules.service import (
    create_schedule,
    delete_schedule,
    describe,
    load_changes,
    load_new,
    owner_is_admin,
    update_schedule,
)
from netraven_tasks.settings import Settings
from netraven_tasks.users import find_user

Command = Callable[[Settings, argparse.Namespace], None]


def _error(message: str) -> Exception:
    return CommandError(message)


def _line(row: dict[str, Any]) -> str:
    timing = (
        f"every {row['interval_seconds']}s"
        if row["interval_seconds"]
        else f"cron {row['cron']!r} {row['timezone']}"
    )
    next_run = row["next_run_at"].isoformat() if row["next_run_at"] else "-"
    state = f"{row['state']} ({row['paused_reason']})" if row["paused_reason"] else row["state"]
    return (
        f"{row['id']:>5}  {state:<8} {row['job_type']:<20} {timing:<32} next {next_run}"
        f"  last {row['last_status'] or '-'}  {json.dumps(row['arguments'], sort_keys=True)}"
    )


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        rows = describe(session, list(session.scalars(select(Schedule).order_by(Schedule.id))))
    for row in rows:
        print(_line(row))
    print(f"{len(rows)} schedule(s)")


def cmd_add(settings: Settings, args: argparse.Namespace) -> None:
    # lazy: builds the Celery app, whose job modules declare the job types a schedule names.
    from netraven_tasks.celery_app import app  # noqa: F401

    body: dict[str, Any] = {
        "job_type": args.job_type,
        "arguments": dict(parse_arg(pair) for pair in args.arg),
        "interval_seconds": args.every,
        "cron": args.cron,
        "timezone": args.timezone,
        "description": args.description,
    }
    if args.grace is not None:
        body["grace_seconds"] = args.grace
    with session_factory(settings).begin() as session:
        owner = find_user(session, args.owner)
        if owner is None:
            raise _error(f"no user named {args.owner!r}")
        body["team_id"] = launch_team_of(settings, args.team, owner)  # the owner must be in it
        try:
            values = load_new(body, settings, owner.is_admin)
        except ValidationError as error:
            raise _error(f"invalid schedule: {json.dumps(error.messages)}") from None
        except LaunchForbidden as error:
            raise _error(f"{args.owner} may not schedule this: {error}") from None
        try:
            ensure_schedule_quota(session, owner.id, owner.is_admin, settings)
        except QuotaExceeded as error:
            raise _error(str(error)) from None
        schedule = create_schedule(session, owner.id, values, utcnow())
        print(f"created schedule {schedule.id}: {_line(describe(session, [schedule])[0])}")


def _existing(session: Session, schedule_id: int) -> Schedule:
    schedule = session.get(Schedule, schedule_id)
    if schedule is None:
        raise _error(f"no schedule {schedule_id}")
    return schedule


def _change(settings: Settings, schedule_id: int, body: dict[str, Any], verb: str) -> None:
    # lazy: builds the Celery app, whose job modules declare the job types a schedule names.
    from netraven_tasks.celery_app import app  # noqa: F401

    with session_factory(settings).begin() as session:
        schedule = _existing(session, schedule_id)
        try:
            values = load_changes(schedule, body, settings, owner_is_admin(session, schedule))
        except ValidationError as error:
            raise _error(f"schedule {schedule_id} cannot be {verb}: {json.dumps(error.messages)}") from None
        except LaunchForbidden as error:
            raise _error(f"schedule {schedule_id} cannot be {verb}: {error}") from None
        update_schedule(session, schedule, values, utcnow())
        print(f"{verb} schedule {schedule_id}: {_line(describe(session, [schedule])[0])}")


def cmd_pause(settings: Settings, args: argparse.Namespace) -> None:
    _change(settings, args.id, {"enabled": False}, "paused")


def cmd_resume(settings: Settings, args: argparse.Namespace) -> None:
    _change(settings, args.id, {"enabled": True}, "resumed")


def cmd_delete(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings).begin() as session:
        delete_schedule(session, _existing(session, args.id))
    print(f"deleted schedule {args.id}")


def add_commands(commands: Any) -> None:
    """Add ``schedules …`` to the ``netraven-tasks`` parser's sub-commands."""
    schedules = commands.add_parser("schedules", help="job runs launched by beat")
    sub = schedules.add_subparsers(dest="schedules_command", required=True)
    sub.add_parser("list", help="every schedule with its state").set_defaults(func=cmd_list)
    add = sub.add_parser("add", help="schedule JOB_TYPE every N seconds or at a cron expression")
    add.add_argument("job_type")
    add.add_argument("--owner", required=True, help="username that owns the schedule and its runs")
    timing = add.add_mutually_exclusive_group(required=True)
    timing.add_argument("--every", type=int, metavar="SECONDS", help="interval in seconds")
    timing.add_argument("--cron", metavar="EXPR", help='five fields, e.g. "0 2 * * *"')
    add.add_argument("--timezone", default="UTC", help="time zone of the cron expression")
    add.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE")
    add.add_argument("--grace", type=int, metavar="SECONDS", help="late after slot + grace")
    add.add_argument("--description")
    add.add_argument(
        "--team", metavar="NAME", help="the team it and its runs belong to (--owner must be in it)"
    )
    add.set_defaults(func=cmd_add)
    for name, func, help_text in (
        ("pause", cmd_pause, "stop launching a schedule"),
        ("resume", cmd_resume, "launch it again from its next slot"),
        ("delete", cmd_delete, "delete it (its runs stay)"),
    ):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("id", type=int)
        command.set_defaults(func=func)
