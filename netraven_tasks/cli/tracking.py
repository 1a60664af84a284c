"""``recorder`` and ``tracking dead-letters``: writing tracking events, and the ones refused."""

from __future__ import annotations

import argparse
import os
import signal
import socket
import threading
from typing import Any

from netraven_tasks.cli.common import CommandError
from netraven_tasks.db import session_factory
from netraven_tasks.schedules.watch import start_watch
from netraven_tasks.settings import Settings
from netraven_tasks.tracking.dead_letters import dead_letters_for
from netraven_tasks.tracking.replay import UnreplayableLetter, replay_dead_letter


def cmd_recorder(settings: Settings, args: argparse.Namespace) -> None:
    # lazy: builds the Celery app and imports every job module (NETRAVEN_JOB_MODULES), which
    # only the commands that launch or record need; `db upgrade` must work with a broken one.
    from netraven_tasks.celery_app import integration

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
    start_watch(
        settings, stop, integration.app
    )  # schedules: the missed-run check lives beside every recorder
    threads = [
        threading.Thread(
            target=integration.recorder_consumer(name, p).run, args=(stop,), name=f"partition-{p}"
        )
        for p in partitions
    ]
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        stop.wait(0.5)  # the main thread stays free for the signal handlers
    for thread in threads:
        thread.join()


def _stop_when_gone(parent_pid: int, stop: threading.Event) -> None:
    """A worker's recorder must not outlive the worker, even one killed with SIGKILL (no
    bootstep runs then): it stops once its parent is no longer ``--parent-pid``."""
    while not stop.wait(1.0):
        if os.getppid() != parent_pid:
            stop.set()


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


def cmd_tracking_dead_letters(settings: Settings, args: argparse.Namespace) -> None:
    letters = dead_letters_for(settings)
    if args.drop:
        if not letters.remove(args.drop):
            raise CommandError(f"no dead letter {args.drop!r}")
        print(f"dropped dead letter {args.drop}")
    elif args.replay:
        _replay(settings, letters, args.replay)
    else:
        shown = letters.list(args.limit)
        for letter in shown:
            fields = letter.fields()
            print(
                f"{letter.id}  {letter.at}  {fields.get('kind', '?')} of task {fields.get('task_id', '?')}"
                f" ({fields.get('job_type', '?')}): {letter.error}"
            )
        print(f"{letters.count()} dead letter(s)" + (f", {len(shown)} shown" if shown else ""))


def _replay(settings: Settings, letters: Any, letter_id: str) -> None:
    # lazy: as in cmd_recorder (the replay plans notifications, published through the app).
    from netraven_tasks.celery_app import integration

    try:
        outcomes = replay_dead_letter(
            letters,
            session_factory(settings),
            letter_id,
            hooks=integration.terminal_hooks,
            planner=integration.planner(),
        )
    except UnreplayableLetter as error:
        raise CommandError(f"{error}; drop it with --drop {letter_id}") from None
    except Exception as error:
        raise CommandError(f"replay of {letter_id} failed again, it is kept: {error}") from None
    if outcomes is None:
        raise CommandError(f"no dead letter {letter_id!r}")
    statuses = ", ".join(f"job log {o.job_log_id} is {o.status.value}" for o in outcomes)
    print(f"replayed dead letter {letter_id}: {statuses}")


def add_commands(commands: Any) -> None:
    """``recorder`` and ``tracking dead-letters``."""
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
