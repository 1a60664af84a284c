"""Fleet runs from a shell: ``run JOB --site S --tag T … [--wait]`` launches a batch (with a live
progress line while it waits), ``batches list`` and ``batches show ID`` read them."""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from celery import Celery
from marshmallow import ValidationError

from netraven_tasks.batches.launch import BatchOrigin, launch_batch
from netraven_tasks.batches.models import Batch, BatchStatus
from netraven_tasks.batches.queries import batch_page, describe_batch
from netraven_tasks.cli.common import CommandError
from netraven_tasks.db import session_factory
from netraven_tasks.devices.selection import SelectionError
from netraven_tasks.jobs.launch import LaunchUnavailable, UnknownJobType
from netraven_tasks.jobs.launch_roles import LaunchForbidden
from netraven_tasks.jobs.registry import all_job_types
from netraven_tasks.quotas import QuotaExceeded
from netraven_tasks.settings import Settings

POLL_SECONDS = 0.5
LIST_LIMIT = 50


def targets_of(args: argparse.Namespace) -> dict[str, Any] | None:
    """The selector the ``run`` options give, or None when they name no target (a single run)."""
    if args.device:
        return {"devices": args.device}
    targets: dict[str, Any] = {}
    if args.site:
        targets["site"] = args.site
    if args.platform:
        targets["platform"] = args.platform
    if args.tag:
        targets["tags"] = args.tag
    return targets or None


def add_target_options(run: argparse.ArgumentParser) -> None:
    """``run``'s selector options: any of them launches a batch over the inventory."""
    run.add_argument("--site", help="run on the enabled devices of this site (a batch)")
    run.add_argument("--tag", action="append", default=[], help="… that carry this tag (repeat: every one)")
    run.add_argument("--platform", help="… of this platform")
    run.add_argument("--device", action="append", default=[], metavar="NAME", help="… these devices by name")


def run_batch(
    settings: Settings,
    app: Celery,
    job_type: str,
    targets: dict[str, Any],
    arguments: dict[str, Any],
    owner: tuple[int | None, bool],
    wait: float | None,
    team_id: int | None = None,
) -> None:
    """Launch the batch (in ``team_id``), print it; with ``wait``, follow it and exit 1 unless it
    completed."""
    owner_id, is_admin = owner
    try:
        launched = launch_batch(
            settings,
            job_type,
            targets,
            arguments,
            owner_id,
            is_admin=is_admin,
            origin=BatchOrigin(team_id=team_id),
            app=app,
        )
    except (LaunchForbidden, SelectionError, QuotaExceeded) as error:
        raise CommandError(str(error)) from None
    except UnknownJobType:
        known = ", ".join(jt.name for jt in all_job_types())
        raise CommandError(f"unknown job type {job_type!r}; known: {known}") from None
    except ValidationError as error:
        raise CommandError(f"invalid batch: {json.dumps(error.messages)}") from None
    except LaunchUnavailable as error:
        raise CommandError(f"{error}; try again in {error.retry_after}s") from None
    print(f"batch {launched.batch_id} {launched.status}: {launched.total} devices")
    if wait is None:
        return
    body = follow(settings, launched.batch_id, wait)
    counts = ", ".join(f"{n} {status}" for status, n in body["counts"].items() if n)
    print(f"batch {launched.batch_id} {body['status']}: {counts}")
    if body["failed_devices"]:
        print(f"failed: {', '.join(body['failed_devices'])}")
    if body["status"] != BatchStatus.COMPLETED.value:
        raise SystemExit(1)


def progress_line(batch_id: int, body: dict[str, Any]) -> str:
    """``batch 7: 12/30 done (40%), 2 failed, 2 running``: one line, rewritten in place."""
    counts = body["counts"]
    done = counts["completed"] + counts["failed"] + counts["canceled"]
    return (
        f"batch {batch_id}: {done}/{body['total']} done ({body['progress']:.0%}), "
        f"{counts['failed']} failed, {counts['running']} running"
    )


def follow(settings: Settings, batch_id: int, timeout: float) -> dict[str, Any]:
    """Poll the batch's row (one row read) with a live progress line on stderr (the runtime has
    neither tqdm nor rich: a carriage return does) until it settles or ``timeout``."""
    deadline = time.monotonic() + timeout
    sessions = session_factory(settings)
    while True:
        with sessions() as session:
            batch = session.get(Batch, batch_id)
            if batch is None:
                raise CommandError(f"batch {batch_id} is gone")
            body = describe_batch(session, batch)
        print(f"\r{progress_line(batch_id, body)}", end="", file=sys.stderr, flush=True)
        if body["status"] != BatchStatus.RUNNING.value or time.monotonic() > deadline:
            print(file=sys.stderr)
            return body
        time.sleep(POLL_SECONDS)


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        rows, total = batch_page(session, None, LIST_LIMIT, 0)
        for batch in rows:
            counts = ", ".join(f"{n} {status}" for status, n in batch.counts().items() if n)
            print(f"{batch.id}\t{batch.job_type}\t{batch.status}\t{batch.total} devices\t{counts}")
    print(f"{len(rows)} of {total} batches (newest first)")


def cmd_show(settings: Settings, args: argparse.Namespace) -> None:
    with session_factory(settings)() as session:
        batch = session.get(Batch, args.batch_id)
        if batch is None:
            raise CommandError(f"no batch {args.batch_id}")
        print(json.dumps(describe_batch(session, batch), indent=2))


def add_commands(commands: Any) -> None:
    """``batches list`` and ``batches show ID``."""
    batches = commands.add_parser("batches", help="fleet runs: list, show")
    actions = batches.add_subparsers(dest="action", required=True, metavar="ACTION")
    listing = actions.add_parser("list", help=f"the newest {LIST_LIMIT} batches")
    listing.set_defaults(func=cmd_list)
    show = actions.add_parser("show", help="one batch: status, counts, failed devices")
    show.add_argument("batch_id", type=int)
    show.set_defaults(func=cmd_show)
