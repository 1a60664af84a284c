"""``worker``, ``beat``, ``flower``, ``api`` and ``up``: the long-running services."""

from __future__ import annotations

import argparse
import os
import sys
from typing import Any

from netraven_tasks.cli.common import CommandError
from netraven_tasks.devserver import run_everything
from netraven_tasks.extras import FLOWER
from netraven_tasks.service_argv import (
    api_argv,
    beat_argv,
    flower_argv,
    flower_environment,
    worker_argv,
)
from netraven_tasks.settings import Settings

PASSTHROUGH = {"worker", "beat", "flower"}  # unknown options go to Celery as they are


def _exec(command: list[str], extra_env: dict[str, str] | None = None) -> None:
    os.execvpe(command[0], command, {**os.environ, **(extra_env or {})})


def cmd_worker(settings: Settings, args: argparse.Namespace) -> None:
    _exec(worker_argv(settings, args.loglevel, args.celery_args))


def cmd_beat(settings: Settings, args: argparse.Namespace) -> None:
    _exec(beat_argv(settings, args.loglevel, args.celery_args))


def cmd_flower(settings: Settings, args: argparse.Namespace) -> None:
    if not FLOWER.installed():
        raise CommandError(FLOWER.missing_message())
    _exec(flower_argv(args.host, args.port, args.celery_args), flower_environment(settings.flower_basic_auth))


def cmd_api(settings: Settings, args: argparse.Namespace) -> None:
    if args.dev:
        run = f"create_app().run(host={args.host!r}, port={args.port}, debug=False)"
        os.execvp(sys.executable, [sys.executable, "-c", f"from api import create_app; {run}"])
    _exec(api_argv(args.host, args.port, args.workers))


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
