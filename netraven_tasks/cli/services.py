"""``worker``, ``beat``, ``flower``, ``api`` and ``up``: the long-running services."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from typing import Any

from netraven_tasks.broker import broker_has_events
from netraven_tasks.devserver import run_everything
from netraven_tasks.private_files import make_private_dir
from netraven_tasks.settings import Settings

PASSTHROUGH = {"worker", "beat", "flower"}  # unknown options go to Celery as they are


def _celery(args: Sequence[str], extra_env: dict[str, str] | None = None) -> None:
    command = [sys.executable, "-m", "celery", "-A", "netraven_tasks", *args]
    os.execvpe(sys.executable, command, {**os.environ, **(extra_env or {})})


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    events = ["-E"] if broker_has_events(settings.broker_url) else []
    _celery(["worker", "--loglevel", args.loglevel, *events, *args.celery_args])


def cmd_beat(settings: Settings, args: argparse.Namespace) -> None:
    make_private_dir(settings.var_dir)
    schedule = str(settings.var_dir / "celerybeat-schedule")
    _celery(["beat", "--loglevel", args.loglevel, "--schedule", schedule, *args.celery_args])


def cmd_flower(settings: Settings, args: argparse.Namespace) -> None:
    # Flower reads FLOWER_BASIC_AUTH itself: the password stays out of the process list.
    auth = {"FLOWER_BASIC_AUTH": settings.flower_basic_auth} if settings.flower_basic_auth else {}
    _celery(["flower", f"--address={args.host}", f"--port={args.port}", *args.celery_args], auth)


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    # The API is the layer above this package: named here, imported only by the process run.
    if args.dev:
        run = f"create_app().run(host={args.host!r}, port={args.port}, debug=False)"
        os.execvp(sys.executable, [sys.executable, "-c", f"from api import create_app; {run}"])
    os.execvp(
        sys.executable,
        [
            sys.executable, "-m", "gunicorn",
            # security: asyncio workers, read deadlines, buffered bodies, JSON errors
            "--config", "python:api.gunicorn_config",
            "--bind", f"{args.host}:{args.port}",
            "--workers", str(args.workers),
            "--access-logfile", "-",
            "api.asgi:create_asgi_app()",
        ],
    )  # fmt: skip


def cmd_up(settings: Settings, args: argparse.Namespace) -> None:
    raise SystemExit(
        run_everything(settings, demo=not args.no_demo, api_port=args.port, flower_port=args.flower_port)
    )


def add_celery_commands(commands: Any) -> None:
    """``worker`` and ``beat`` (their unknown options go to Celery)."""
    for name, func, help_text in (
        ("worker", cmd_worker, "run a Celery worker"),
        ("beat", cmd_beat, "run Celery beat (several may run: one leads, the others stand by)"),
    ):
        service = commands.add_parser(name, help=help_text)
        service.add_argument("--loglevel", default="info")
        service.set_defaults(func=func)


def add_server_commands(commands: Any) -> None:
    """``flower``, ``api`` and ``up``."""
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
