"""``maintenance list|create|end|delete``: maintenance windows from the terminal.

The CLI runs as the operator (an admin's rights); a window it creates has no creator.
"""

from __future__ import annotations

import argparse
import json
import re
from datetime import timedelta
from typing import Any

from marshmallow import ValidationError

from netraven_tasks.cli.common import CommandError
from netraven_tasks.db import session_factory
from netraven_tasks.maintenance.schemas import WindowSchema
from netraven_tasks.maintenance.windows import (
    WindowNotFound,
    WindowRefused,
    WindowState,
    create_window,
    delete_window,
    describe,
    end_window_now,
    get_window,
    list_windows,
)
from netraven_tasks.models import utcnow
from netraven_tasks.settings import Settings

DURATION = re.compile(r"^(\d{1,6})([smhd])$")
UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days"}


def parse_duration(text: str) -> timedelta:
    """``90m``, ``2h``, ``1d``, ``3600s``."""
    found = DURATION.match(text.strip())
    if found is None:
        raise argparse.ArgumentTypeError(f"{text!r} is no duration: a number and s, m, h or d (e.g. 2h)")
    return timedelta(**{UNITS[found.group(2)]: int(found.group(1))})


def _line(window: dict[str, Any]) -> str:
    match = ", ".join(
        f"{name} {','.join(map(str, values))}" for name, values in window["match"].items() if values
    )
    skip = " skip-runs" if window["skip_runs"] else ""
    return (
        f"#{window['id']:<5} {window['state']:<8} {window['starts_at']:%Y-%m-%d %H:%M} → "
        f"{window['ends_at']:%Y-%m-%d %H:%M} UTC  {match}{skip}  suppressed {window['suppressed']}, "
        f"skipped {window['skipped_slots']}  {window['reason']}"
    )


def _print(windows: list[dict[str, Any]], as_json: bool) -> None:
    if as_json:
        print(json.dumps(windows, indent=2, default=str))
    else:
        print("\n".join(_line(window) for window in windows) if windows else "no maintenance windows")


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    now = utcnow()
    state = WindowState(args.state) if args.state else None
    with session_factory(settings)() as session:
        windows, _total = list_windows(session, now, state, limit=args.limit, offset=0)
        _print(describe(session, windows, now), args.json)


def cmd_create(settings: Settings, args: argparse.Namespace) -> None:
    now = utcnow()
    starts = args.start or now.isoformat()
    if args.end is None and args.duration is None:
        raise CommandError("give --end or --duration")
    body: dict[str, Any] = {
        "starts_at": starts,
        "match": {
            name: values
            for name, values in (
                ("devices", args.device),
                ("sites", args.site),
                ("tags", args.tag),
                ("schedule_ids", args.schedule),
            )
            if values
        },
        "skip_runs": args.skip_runs,
        "reason": args.reason,
    }
    try:
        if args.end is not None:
            body["ends_at"] = args.end
        else:
            start = WindowSchema().fields["starts_at"].deserialize(starts, "starts_at", body)
            body["ends_at"] = (start + args.duration).isoformat()
        values = WindowSchema().load(body)
    except ValidationError as error:
        raise CommandError(f"the window is refused: {json.dumps(error.messages)}") from None
    with session_factory(settings).begin() as session:
        window = create_window(session, values, None, now)
        print(f"created: {_line(describe(session, [window], now)[0])}")


def _change(settings: Settings, window_id: int, change: str) -> None:
    now = utcnow()
    try:
        with session_factory(settings).begin() as session:
            window = get_window(session, window_id)
            if change == "end":
                end_window_now(session, window, now)
                print(f"ended: {_line(describe(session, [window], now)[0])}")
            else:
                delete_window(session, window, now)
                print(f"deleted maintenance window {window_id}")
    except (WindowNotFound, WindowRefused) as error:
        raise CommandError(str(error)) from None


def add_commands(commands: Any) -> None:
    """``maintenance list|create|end|delete``."""
    maintenance = commands.add_parser("maintenance", help="maintenance windows: alerts held, slots skipped")
    sub = maintenance.add_subparsers(dest="maintenance_command", required=True, metavar="ACTION")

    listing = sub.add_parser("list", help="windows, the latest starting first")
    listing.add_argument("--state", choices=[state.value for state in WindowState])
    listing.add_argument("--limit", type=int, default=50)
    listing.add_argument("--json", action="store_true", help="the API's fields as JSON")
    listing.set_defaults(func=cmd_list)

    create = sub.add_parser("create", help="a new window (any one of its matches covers a run)")
    create.add_argument("--start", help="ISO 8601 with offset, e.g. 2026-03-01T22:00:00+01:00 (now)")
    ends = create.add_mutually_exclusive_group()
    ends.add_argument("--end", help="ISO 8601 with offset")
    ends.add_argument("--duration", type=parse_duration, help="from the start: 90m, 2h, 1d")
    create.add_argument("--device", action="append", help="a device name (repeat for several)")
    create.add_argument("--site", action="append", help="a site of the inventory (repeat)")
    create.add_argument("--tag", action="append", help="a tag of the inventory (repeat)")
    create.add_argument("--schedule", action="append", type=int, help="a schedule id (repeat)")
    create.add_argument("--skip-runs", action="store_true", help="skip the scheduled slots it covers")
    create.add_argument("--reason", default="", help="shown wherever it suppressed something")
    create.set_defaults(func=cmd_create)

    for name, helptext in (
        ("end", "end an active window now (those still failing are then told)"),
        ("delete", "delete an upcoming or ended window and its records"),
    ):
        action = sub.add_parser(name, help=helptext)
        action.add_argument("window_id", type=int)
        action.set_defaults(
            func=lambda settings, args, change=name: _change(settings, args.window_id, change)
        )
