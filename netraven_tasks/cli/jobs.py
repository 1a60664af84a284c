"""``run``: launch a job from the console, and optionally wait for its final status."""

from __future__ import annotations

import argparse
import json
import time
from typing import Any

from marshmallow import ValidationError

from netraven_tasks.cli.batches import add_target_options, run_batch, targets_of
from netraven_tasks.cli.common import CommandError, parse_arg
from netraven_tasks.cli.teams import launch_team_of
from netraven_tasks.db import session_factory
from netraven_tasks.jobs.launch import LaunchUnavailable, UnknownJobType, launch_job
from netraven_tasks.jobs.launch_roles import LaunchForbidden
from netraven_tasks.jobs.registry import all_job_types, get_job_type
from netraven_tasks.models import JobLog
from netraven_tasks.settings import Settings
from netraven_tasks.statuses import TERMINAL_STATUSES
from netraven_tasks.users import find_user


def cmd_run(settings: Settings, args: argparse.Namespace) -> None:
    # lazy: builds the Celery app and imports every job module (NETRAVEN_JOB_MODULES), which
    # only the commands that launch need; `db upgrade` must work with a broken job module.
    from netraven_tasks.celery_app import app

    owner = None
    owner_id = None
    owner_is_admin = True  # no --owner: the operator at the console
    if args.owner:
        with session_factory(settings)() as session:
            owner = find_user(session, args.owner)
        if owner is None:
            raise CommandError(f"no user named {args.owner!r}")
        owner_id, owner_is_admin = owner.id, bool(owner.is_admin)
    team_id = launch_team_of(settings, args.team, owner)
    arguments = dict(parse_arg(pair) for pair in args.arg)
    targets = targets_of(args)
    if targets is not None:  # fleet: one run per device the options select
        owned = (owner_id, owner_is_admin)
        run_batch(settings, app, args.job_type, targets, arguments, owned, args.wait, team_id)
        return
    try:
        declared = get_job_type(args.job_type)
        if declared is not None:  # security: the owner's role must be allowed to launch it
            declared.authorize(arguments, owner_is_admin, settings)
        launched = launch_job(settings, args.job_type, arguments, owner_id, team_id=team_id, app=app)
    except LaunchForbidden as error:
        raise CommandError(str(error)) from None
    except UnknownJobType:
        known = ", ".join(jt.name for jt in all_job_types())
        raise CommandError(f"unknown job type {args.job_type!r}; known: {known}") from None
    except ValidationError as error:
        raise CommandError(f"invalid arguments: {json.dumps(error.messages)}") from None
    except LaunchUnavailable as error:
        raise CommandError(f"{error}; try again in {error.retry_after}s") from None
    print(f"job log {launched.job_log_id} {launched.status} (task {launched.task_id})")
    if args.wait:
        status, failure = _wait_for(settings, launched.job_log_id, args.wait)
        print(f"job log {launched.job_log_id} {status}" + (f": {failure}" if failure else ""))
        if status != "completed":
            raise SystemExit(1)


def _wait_for(settings: Settings, job_log_id: int, timeout: float) -> tuple[str, str | None]:
    """The run's status once it is final (or at the timeout), with "ErrorType: message" if it failed."""
    deadline = time.monotonic() + timeout
    sessions = session_factory(settings)
    while True:
        with sessions() as session:
            job = session.get(JobLog, job_log_id)
            status = job.status if job else "missing"
            error = f"{job.error_type}: {job.error_message}" if job and job.error_type else None
        if status in TERMINAL_STATUSES or time.monotonic() > deadline:
            return status, error
        time.sleep(0.5)


def add_commands(commands: Any) -> None:
    """``run JOB_TYPE --arg KEY=VALUE … [--owner NAME] [--team NAME] [--wait [SECONDS]]`` and, for a batch,
    ``[--site S] [--tag T …] [--platform P] [--device NAME …]``."""
    run = commands.add_parser("run", help="launch a job")
    run.add_argument("job_type")
    run.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--owner", help="username that owns the job (default: none)")
    run.add_argument(
        "--team", metavar="NAME", help="the team the run (or batch) belongs to; --owner must be in it"
    )
    run.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=120.0,
        default=None,
        metavar="SECONDS",
        help="wait for the final status; exit 1 unless completed",
    )
    add_target_options(run)
    run.set_defaults(func=cmd_run)
