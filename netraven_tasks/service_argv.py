"""Each long-running service's command line, built in one place: ``netraven-tasks worker|beat|
flower|api`` exec it, and ``up`` starts it as it is (without paying the CLI's start-up once more
per service)."""

from __future__ import annotations

import sys
from collections.abc import Sequence

from netraven_tasks.broker import broker_has_events
from netraven_tasks.private_files import make_private_dir
from netraven_tasks.settings import Settings


def celery_argv(*args: str) -> list[str]:
    return [sys.executable, "-m", "celery", "-A", "netraven_tasks", *args]


def worker_argv(settings: Settings, loglevel: str = "info", extra: Sequence[str] = ()) -> list[str]:
    events = ["-E"] if broker_has_events(settings.broker_url) else []
    return celery_argv("worker", "--loglevel", loglevel, *events, *extra)


def beat_argv(settings: Settings, loglevel: str = "info", extra: Sequence[str] = ()) -> list[str]:
    make_private_dir(settings.var_dir)
    schedule = str(settings.var_dir / "celerybeat-schedule")
    return celery_argv("beat", "--loglevel", loglevel, "--schedule", schedule, *extra)


def flower_argv(host: str, port: int, extra: Sequence[str] = ()) -> list[str]:
    return celery_argv("flower", f"--address={host}", f"--port={port}", *extra)


def flower_environment(basic_auth: str | None) -> dict[str, str]:
    # Flower reads FLOWER_BASIC_AUTH itself: the password stays out of the process list.
    return {"FLOWER_BASIC_AUTH": basic_auth} if basic_auth else {}


def api_argv(host: str, port: int, workers: int) -> list[str]:
    # The API is the layer above this package: named here, imported only by the process run.
    return [
        sys.executable, "-m", "gunicorn",
        # security: asyncio workers, read deadlines, buffered bodies, JSON errors
        "--config", "python:api.gunicorn_config",
        "--bind", f"{host}:{port}",
        "--workers", str(workers),
        "--access-logfile", "-",
        "api.asgi:create_asgi_app()",
    ]  # fmt: skip
