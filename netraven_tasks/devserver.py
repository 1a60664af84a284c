"""``netraven-tasks up``: migrate, make an admin, run every service and some demo traffic.

For a laptop or a demo on the embedded default; production runs each service on its own
(see compose.yaml). Ctrl-C stops everything: each service runs in a process group of its own, so
the terminal's SIGINT reaches ``up`` alone, and ``up`` stops the services one by one.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from types import FrameType

from celery import Celery

from netraven_tasks.auth import issue_token
from netraven_tasks.broker import broker_has_events
from netraven_tasks.db import session_factory
from netraven_tasks.extras import FLOWER
from netraven_tasks.jobs.launch import launch_job
from netraven_tasks.migrate import upgrade
from netraven_tasks.models import User
from netraven_tasks.private_files import make_private_dir, write_private_file
from netraven_tasks.service_argv import api_argv, beat_argv, flower_argv, flower_environment, worker_argv
from netraven_tasks.settings import Settings
from netraven_tasks.users import create_user, find_user

ADMIN = "admin"
FLOWER_USER = "admin"
DEMO_INTERVAL_SECONDS = 30.0
API_START_SECONDS = 60.0
# Seconds a service has to stop after SIGTERM before its whole process group is killed.
STOP_SECONDS = 15.0
# Stopped in this order: the API first (no new launches), the worker last (it finishes its jobs).
STOP_ORDER = ("api", "flower", "beat", "worker")


def _ensure_admin(settings: Settings) -> tuple[int, str | None]:
    """The admin's id and, when just created, the password (also kept in var/admin-password)."""
    password_file = settings.var_dir / "admin-password"
    with session_factory(settings).begin() as session:
        user = find_user(session, ADMIN)
        if user is not None:
            return user.id, None
        password = secrets.token_urlsafe(12)
        user = create_user(session, ADMIN, "admin@localhost", password, is_admin=True)
        write_private_file(password_file, password + "\n")
        return user.id, password


def _flower_credentials(settings: Settings) -> str:
    """``user:password`` for Flower's basic auth: NETRAVEN_FLOWER_BASIC_AUTH when set, else a
    password made on the first run and kept in var/flower-password (Flower never runs open)."""
    if settings.flower_basic_auth:
        return settings.flower_basic_auth
    password_file = settings.var_dir / "flower-password"
    if password_file.exists():
        password = password_file.read_text().strip()
    else:
        password = secrets.token_urlsafe(12)
        write_private_file(password_file, password + "\n")
    return f"{FLOWER_USER}:{password}"


def _demo_config(settings: Settings) -> Path:
    path = settings.var_dir / "demo" / "edge-rtr-01.cfg"
    write_private_file(
        path,
        "hostname edge-rtr-01\n"
        "interface GigabitEthernet0/0\n description uplink\n ip address 192.0.2.1 255.255.255.0\n"
        f"! saved {time.strftime('%Y-%m-%d %H:%M:%S')}\n",
    )
    return path


def _listening(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def _demo_traffic(
    app: Celery, settings: Settings, owner_id: int, api_port: int, stop: threading.Event
) -> None:
    """A few jobs now and then: one reachable port, one refused, one configuration backup."""
    # The first check of the API's port would fail while gunicorn still starts: wait for it (at
    # most API_START_SECONDS; a round after that shows what the API's absence looks like).
    deadline = time.monotonic() + API_START_SECONDS
    while not stop.is_set() and not _listening(api_port) and time.monotonic() < deadline:
        stop.wait(0.2)
    while not stop.is_set():
        for job_type, arguments in (
            ("reachability_check", {"host": "127.0.0.1", "port": api_port, "timeout": 2}),
            ("reachability_check", {"host": "127.0.0.1", "port": 1, "timeout": 2}),
            ("config_backup", {"host": "edge-rtr-01", "source": str(_demo_config(settings))}),
        ):
            try:
                launch_job(settings, job_type, arguments, owner_id, app=app)
            except Exception as error:  # the demo must never take the system down
                print(f"demo: could not launch {job_type}: {error}", file=sys.stderr)
        stop.wait(DEMO_INTERVAL_SECONDS)


def _declare_queues(app: Celery) -> None:
    """Create the broker's queues before any service starts. On the embedded (SQLAlchemy) broker,
    kombu creates a queue's row on first use with a SELECT, then an INSERT: the worker starting to
    consume and the first launch at the same moment made one of them fail on the unique name (the
    launch then ended ``failed``, PublishError)."""
    with app.connection_for_write() as connection:
        for queue in app.amqp.queues.values():
            queue.bind(connection.default_channel).declare()


def _services(settings: Settings, api_port: int, flower_port: int) -> dict[str, list[str]]:
    """The commands ``netraven-tasks api|worker|beat|flower`` exec, started directly."""
    services = {
        "api": api_argv("127.0.0.1", api_port, workers=2),
        "worker": worker_argv(settings, extra=["--concurrency", "2"]),
        "beat": beat_argv(settings),
    }
    if broker_has_events(settings.broker_url):  # Flower shows task events
        if FLOWER.installed():
            services["flower"] = flower_argv("127.0.0.1", flower_port)
        else:
            print(f"note: starting without Flower. {FLOWER.missing_message()}", file=sys.stderr)
    return services


def _service_environment(settings: Settings) -> dict[str, str]:
    """The services' environment: the demo's config folder joins the file driver's roots."""
    roots = (*settings.backup_file_roots, (settings.var_dir / "demo").resolve())
    return {**os.environ, "NETRAVEN_BACKUP_FILE_ROOTS": os.pathsep.join(str(root) for root in roots)}


def _start(command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
    # A process group of its own: a terminal's Ctrl-C goes to the foreground group, which is `up`'s
    # alone. Sharing it, gunicorn's workers got SIGINT from the terminal and the arbiter's quit at
    # once, and one deadlocked in its shutdown, still holding the port.
    return subprocess.Popen(command, env=env, process_group=0)


def _stop(processes: dict[str, subprocess.Popen[bytes]]) -> None:
    """SIGTERM to each service's main process, in STOP_ORDER (each stops its own children), then
    SIGKILL to the process group of one still there after STOP_SECONDS, and of whatever outlived
    its main process (an orphaned child)."""
    ordered = sorted(processes.items(), key=lambda item: STOP_ORDER.index(item[0]))
    for _name, process in ordered:
        if process.poll() is None:
            process.terminate()
    deadline = time.monotonic() + STOP_SECONDS
    for name, process in ordered:
        try:
            process.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            print(f"{name} did not stop within {STOP_SECONDS:.0f} s; killing it", file=sys.stderr)
        _signal_group(process.pid, signal.SIGKILL)
        process.wait()


def _signal_group(pgid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the group is gone already
        os.killpg(pgid, sig)


def _print_banner(
    settings: Settings, password: str | None, token: str, api_port: int, flower: str | None, flower_port: int
) -> None:
    print("\nNetRaven Tasks is starting:")
    print(f"  API      http://127.0.0.1:{api_port}  (docs: /docs, spec: /openapi.json)")
    print(
        f"  Dashboard http://127.0.0.1:{api_port}/ui/  (user admin, password in "
        f"{settings.var_dir / 'admin-password'})"
    )
    if flower:
        user, _, flower_password = flower.partition(":")
        print(f"  Flower   http://127.0.0.1:{flower_port}  (user {user}, password {flower_password})")
    print(f"  Mail     {settings.smtp_url or settings.maildir}")
    if password:
        print(f"  admin password: {password}  (kept in {settings.var_dir / 'admin-password'})")
    print(f"  token:   export TOKEN={token}")
    # The CLI finds this system's data from any folder once this is exported.
    print(f"  CLI:     export NETRAVEN_VAR_DIR={settings.var_dir}")
    print(
        f'  try:     curl -H "Authorization: Bearer $TOKEN" http://127.0.0.1:{api_port}/job-logs\n',
        flush=True,
    )


def _supervise(processes: dict[str, subprocess.Popen[bytes]], stop: threading.Event) -> int:
    """Wait for Ctrl-C (``stop``) or for a service to exit; 1 if one exited by itself."""
    exit_code = 0
    while not stop.is_set():
        for name, process in processes.items():
            if process.poll() is not None:
                print(f"{name} exited with status {process.returncode}; stopping", file=sys.stderr)
                exit_code = 1
                stop.set()
        stop.wait(0.5)
    return exit_code


def run_everything(
    settings: Settings, demo: bool = True, api_port: int = 8000, flower_port: int = 5555
) -> int:
    make_private_dir(settings.var_dir)
    upgrade(settings.database_url)
    # lazy: builds the Celery app and imports the job modules, which only `up` needs (the CLI
    # imports this module for every command).
    from netraven_tasks.celery_app import app

    _declare_queues(app)
    admin_id, password = _ensure_admin(settings)
    with session_factory(settings)() as session:
        admin = session.get(User, admin_id)
        assert admin is not None
        token = issue_token(admin, settings)

    stop = threading.Event()

    def shutdown(signum: int, _frame: FrameType | None) -> None:
        stop.set()

    # Before the first service starts: from now on a Ctrl-C (or a closed terminal) stops what started.
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, shutdown)

    services = _services(settings, api_port, flower_port)
    flower = _flower_credentials(settings) if "flower" in services else None
    environment = _service_environment(settings)
    processes: dict[str, subprocess.Popen[bytes]] = {}
    try:
        for name, command in services.items():
            if stop.is_set():
                break
            extra = flower_environment(flower) if name == "flower" else {}
            processes[name] = _start(command, {**environment, **extra})
        _print_banner(settings, password, token, api_port, flower, flower_port)
        if demo:
            threading.Thread(
                target=_demo_traffic, args=(app, settings, admin_id, api_port, stop), daemon=True, name="demo"
            ).start()
        exit_code = _supervise(processes, stop)
    finally:
        stop.set()
        _stop(processes)
    print("stopped", flush=True)
    return exit_code
