"""The ``netraven-tasks`` command: database, users, tokens, launching jobs and running services."""

from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from collections.abc import Sequence
from typing import Any

from marshmallow import ValidationError
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError

from netraven_tasks.settings import Settings, SettingsError, get_settings


class CommandError(Exception):
    """Shown to the user as 'error: …' with exit status 2."""


def _parse_arg(pair: str) -> tuple[str, Any]:
    key, sep, raw = pair.partition("=")
    if not sep or not key:
        raise CommandError(f"--arg takes KEY=VALUE, got {pair!r}")
    try:
        value: Any = json.loads(raw)
    except ValueError:
        value = raw
    return key, value


def cmd_db_upgrade(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.migrate import upgrade

    upgrade(settings.database_url, args.revision)
    print(f"database {_redact(settings.database_url)} upgraded to {args.revision}")


def cmd_db_downgrade(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.migrate import downgrade

    downgrade(settings.database_url, args.revision)
    print(f"database {_redact(settings.database_url)} downgraded to {args.revision}")


def cmd_users_create(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.db import session_factory
    from netraven_tasks.users import UserError, create_user

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
    from netraven_tasks.db import session_factory
    from netraven_tasks.users import UserError, set_password

    password = _read_password()
    try:
        with session_factory(settings).begin() as session:
            user = set_password(session, args.name, password)
            print(f"password of {user.username} changed; tokens issued before no longer work")
    except UserError as error:
        raise CommandError(str(error)) from None


def cmd_users_deactivate(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.db import session_factory
    from netraven_tasks.users import UserError, deactivate_user

    try:
        with session_factory(settings).begin() as session:
            user = deactivate_user(session, args.name)
            print(f"deactivated {user.username}; tokens issued before no longer work")
    except UserError as error:
        raise CommandError(str(error)) from None


def cmd_users_list(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.db import session_factory
    from netraven_tasks.users import list_users

    with session_factory(settings)() as session:
        for user in list_users(session):
            role = "admin" if user.is_admin else "user"
            state = "active" if user.active else "deactivated"
            print(f"{user.id}\t{user.username}\t{user.email}\t{role}\t{state}")


def cmd_token(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.auth import issue_token
    from netraven_tasks.db import session_factory
    from netraven_tasks.users import find_user

    with session_factory(settings)() as session:
        user = find_user(session, args.name)
        if user is None or not user.active:
            raise CommandError(f"no active user named {args.name!r}")
        try:
            print(issue_token(user, settings, args.ttl))
        except ValueError as error:  # --ttl out of range
            raise CommandError(str(error)) from None


def cmd_run(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.celery_app import app  # noqa: F401 - registers the job types
    from netraven_tasks.db import session_factory
    from netraven_tasks.jobs.launch import LaunchUnavailable, UnknownJobType, launch_job
    from netraven_tasks.jobs.launch_roles import LaunchForbidden
    from netraven_tasks.jobs.registry import all_job_types, get_job_type
    from netraven_tasks.users import find_user

    owner_id = None
    owner_is_admin = True  # no --owner: the operator at the console
    if args.owner:
        with session_factory(settings)() as session:
            owner = find_user(session, args.owner)
        if owner is None:
            raise CommandError(f"no user named {args.owner!r}")
        owner_id, owner_is_admin = owner.id, bool(owner.is_admin)
    arguments = dict(_parse_arg(pair) for pair in args.arg)
    try:
        declared = get_job_type(args.job_type)
        if declared is not None:  # security: the owner's role must be allowed to launch it
            declared.authorize(arguments, owner_is_admin, settings)
        launched = launch_job(settings, args.job_type, arguments, owner_id)
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
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import JobLog
    from netraven_tasks.statuses import TERMINAL_STATUSES

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


def _celery(args: Sequence[str], extra_env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "celery", "-A", "netraven_tasks", *args]
    os.execvpe(sys.executable, command, {**os.environ, **(extra_env or {})})


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    events = ["-E"] if not settings.broker_url.startswith("sqla+") else []
    _celery(["worker", "--loglevel", args.loglevel, *events, *args.celery_args])


def cmd_beat(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.private_files import make_private_dir

    make_private_dir(settings.var_dir)
    schedule = str(settings.var_dir / "celerybeat-schedule")
    _celery(["beat", "--loglevel", args.loglevel, "--schedule", schedule, *args.celery_args])


def cmd_flower(settings: Settings, args: argparse.Namespace) -> None:
    # Flower reads FLOWER_BASIC_AUTH itself: the password stays out of the process list.
    auth = {"FLOWER_BASIC_AUTH": settings.flower_basic_auth} if settings.flower_basic_auth else {}
    _celery(["flower", f"--address={args.host}", f"--port={args.port}", *args.celery_args], auth)


def cmd_recorder(settings: Settings, args: argparse.Namespace) -> None:
    import signal
    import socket

    from netraven_tasks.celery_app import recorder_consumer

    if not settings.tracking_via_stream:
        raise CommandError("the recorder consumes the Redis Stream: set a redis:// NETRAVEN_BROKER_URL")
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    signal.signal(signal.SIGINT, lambda *_: stop.set())
    if args.parent_pid:
        threading.Thread(target=_stop_when_gone, args=(args.parent_pid, stop), daemon=True).start()
    name = args.name or f"recorder@{socket.gethostname()}:{os.getpid()}"
    partitions = _partitions(args.partitions, settings.tracking_partitions)
    print(f"{name} consuming tracking events of partition(s) {partitions} (Ctrl-C stops)", flush=True)
    from netraven_tasks.schedules.watch import start_watch

    start_watch(settings, stop)  # schedules: the missed-run check lives beside every recorder
    threads = [
        threading.Thread(target=recorder_consumer(settings, name, p).run, args=(stop,), name=f"partition-{p}")
        for p in partitions
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        stop.wait(0.5)  # the main thread stays free for the signal handlers
    for thread in threads:
        thread.join()


def _partitions(raw: str | None, count: int) -> list[int]:
    """``--partitions 0,2`` (default: every partition of NETRAVEN_TRACKING_PARTITIONS)."""
    if not raw:
        return list(range(count))
    try:
        chosen = sorted({int(part) for part in raw.split(",") if part.strip()})
    except ValueError:
        raise CommandError(f"--partitions takes comma-separated numbers, got {raw!r}") from None
    if not chosen or not all(0 <= p < count for p in chosen):
        raise CommandError(f"--partitions must name partitions 0..{count - 1} (NETRAVEN_TRACKING_PARTITIONS)")
    return chosen


# --- tracking: dead letters (events the database refused) ---


def cmd_tracking_dead_letters(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.celery_app import TERMINAL_HOOKS
    from netraven_tasks.db import session_factory
    from netraven_tasks.notifications.tasks import notification_planner
    from netraven_tasks.tracking.dead_letters import dead_letters_for
    from netraven_tasks.tracking.replay import UnreplayableLetter, replay_dead_letter

    letters = dead_letters_for(settings)
    if args.drop:
        if not letters.remove(args.drop):
            raise CommandError(f"no dead letter {args.drop!r}")
        print(f"dropped dead letter {args.drop}")
    elif args.replay:
        try:
            outcomes = replay_dead_letter(
                letters,
                session_factory(settings),
                args.replay,
                hooks=TERMINAL_HOOKS,
                planner=notification_planner(),
            )
        except UnreplayableLetter as error:
            raise CommandError(f"{error}; drop it with --drop {args.replay}") from None
        except Exception as error:
            raise CommandError(f"replay of {args.replay} failed again, it is kept: {error}") from None
        if outcomes is None:
            raise CommandError(f"no dead letter {args.replay!r}")
        statuses = ", ".join(f"job log {o.job_log_id} is {o.status.value}" for o in outcomes)
        print(f"replayed dead letter {args.replay}: {statuses}")
    else:
        shown = letters.list(args.limit)
        for letter in shown:
            fields = letter.fields()
            print(
                f"{letter.id}  {letter.at}  {fields.get('kind', '?')} of task {fields.get('task_id', '?')}"
                f" ({fields.get('job_type', '?')}): {letter.error}"
            )
        print(f"{letters.count()} dead letter(s)" + (f", {len(shown)} shown" if shown else ""))


def _stop_when_gone(parent_pid: int, stop: threading.Event) -> None:
    """A worker's recorder must not outlive the worker, even one killed with SIGKILL."""
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            stop.set()


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    if args.dev:
        from api import create_app

        create_app().run(host=args.host, port=args.port, debug=False)
        return
    os.execvp(
        sys.executable,
        [
            sys.executable, "-m", "gunicorn",
            "--config", "python:api.gunicorn_config",  # security: gthread, timeouts, JSON errors
            "--bind", f"{args.host}:{args.port}",
            "--workers", str(args.workers),
            "--access-logfile", "-",
            "api:create_app()",
        ],
    )  # fmt: skip


def cmd_up(settings: Settings, args: argparse.Namespace) -> None:
    from netraven_tasks.devserver import run_everything

    raise SystemExit(
        run_everything(settings, demo=not args.no_demo, api_port=args.port, flower_port=args.flower_port)
    )


def _redact(url: str) -> str:
    from sqlalchemy.engine import make_url

    try:
        return make_url(url).render_as_string(hide_password=True)
    except Exception:
        return url


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="netraven-tasks", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    db = commands.add_parser("db", help="database schema (Alembic)")
    db_commands = db.add_subparsers(dest="db_command", required=True)
    up = db_commands.add_parser("upgrade", help="migrate to the newest schema")
    up.add_argument("revision", nargs="?", default="head")
    up.set_defaults(func=cmd_db_upgrade)
    down = db_commands.add_parser("downgrade", help="migrate back to REVISION")
    down.add_argument("revision")
    down.set_defaults(func=cmd_db_downgrade)

    users = commands.add_parser("users", help="manage users")
    user_commands = users.add_subparsers(dest="users_command", required=True)
    create = user_commands.add_parser("create", help="create a user")
    create.add_argument("name")
    create.add_argument("--email", required=True)
    create.add_argument("--admin", action="store_true")
    create.add_argument("--password-stdin", action="store_true", help="read a password from stdin")
    create.set_defaults(func=cmd_users_create)
    # security: account life cycle
    set_pw = user_commands.add_parser("set-password", help="set NAME's password from stdin; revokes tokens")
    set_pw.add_argument("name")
    set_pw.set_defaults(func=cmd_users_set_password)
    deactivate = user_commands.add_parser("deactivate", help="deactivate NAME; revokes tokens")
    deactivate.add_argument("name")
    deactivate.set_defaults(func=cmd_users_deactivate)
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

    run = commands.add_parser("run", help="launch a job")
    run.add_argument("job_type")
    run.add_argument("--arg", action="append", default=[], metavar="KEY=VALUE")
    run.add_argument("--owner", help="username that owns the job (default: none)")
    run.add_argument(
        "--wait",
        type=float,
        nargs="?",
        const=120.0,
        default=None,
        metavar="SECONDS",
        help="wait for the final status; exit 1 unless completed",
    )
    run.set_defaults(func=cmd_run)

    for name, func, help_text in (
        ("worker", cmd_worker, "run a Celery worker"),
        ("beat", cmd_beat, "run Celery beat (several may run: one leads, the others stand by)"),
    ):
        service = commands.add_parser(name, help=help_text)
        service.add_argument("--loglevel", default="info")
        service.set_defaults(func=func)

    recorder = commands.add_parser(
        "recorder", help="write tracking events from the Redis Stream (workers host one by default)"
    )
    recorder.add_argument("--name", help="consumer name in the Redis group (default recorder@host:pid)")
    recorder.add_argument("--parent-pid", type=int, help="stop when this process (a worker) is gone")
    recorder.add_argument("--partitions", help="comma-separated tracking partitions to serve (default all)")
    recorder.set_defaults(func=cmd_recorder)

    tracking = commands.add_parser("tracking", help="tracking events the database refused")
    tracking_commands = tracking.add_subparsers(dest="tracking_command", required=True)
    dead = tracking_commands.add_parser("dead-letters", help="list dead letters, or replay or drop one")
    dead_action = dead.add_mutually_exclusive_group()
    dead_action.add_argument("--replay", metavar="ID", help="write the event again (after fixing the cause)")
    dead_action.add_argument("--drop", metavar="ID", help="forget the event")
    dead.add_argument("--limit", type=int, default=100, help="how many to list (oldest first)")
    dead.set_defaults(func=cmd_tracking_dead_letters)

    flower = commands.add_parser("flower", help="run Flower")
    flower.add_argument("--host", default="127.0.0.1")
    flower.add_argument("--port", type=int, default=5555)
    flower.set_defaults(func=cmd_flower)

    api = commands.add_parser("api", help="serve the REST API (gunicorn)")
    api.add_argument("--host", default="127.0.0.1")
    api.add_argument("--port", type=int, default=8000)
    api.add_argument("--workers", type=int, default=2)
    api.add_argument("--dev", action="store_true", help="Flask's development server instead")
    api.set_defaults(func=cmd_api)

    everything = commands.add_parser("up", help="migrate and run API, worker, beat and Flower")
    everything.add_argument("--no-demo", action="store_true", help="start no demo traffic")
    everything.add_argument("--port", type=int, default=8000, help="API port")
    everything.add_argument("--flower-port", type=int, default=5555)
    everything.set_defaults(func=cmd_up)

    from netraven_tasks.schedules.commands import add_commands as add_schedule_commands

    add_schedule_commands(commands)  # schedules list|add|pause|resume|delete
    return parser


PASSTHROUGH = {"worker", "beat", "flower"}  # unknown options go to Celery as they are


def main(argv: Sequence[str] | None = None) -> None:
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and args.command not in PASSTHROUGH:
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.celery_args = extra
    from netraven_tasks.private_files import ensure_private_sqlite, restrict_umask

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


if __name__ == "__main__":
    main()
