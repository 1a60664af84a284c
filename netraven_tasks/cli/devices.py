"""``devices import FILE`` and ``devices list``: the inventory from a shell."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from netraven_tasks.cli.common import CommandError
from netraven_tasks.db import session_factory
from netraven_tasks.devices.importing import InventoryFileError, import_devices, read_rows
from netraven_tasks.devices.inventory import DeviceFilter, page_of_devices
from netraven_tasks.devices.models import Device
from netraven_tasks.devices.schemas import PLATFORMS
from netraven_tasks.settings import Settings

LIST_LIMIT = 1_000_000


def cmd_import(settings: Settings, args: argparse.Namespace) -> None:
    try:
        rows = read_rows(Path(args.file))
    except InventoryFileError as error:
        raise CommandError(str(error)) from None
    with session_factory(settings).begin() as session:
        report = import_devices(session, rows)
        if not report.imported:  # raising rolls the transaction back: nothing is written
            for line, problem in report.invalid:
                print(f"{args.file}:{line}: {problem}", file=sys.stderr)
            count = len(report.invalid)
            raise CommandError(
                f"{count} invalid row(s) in {args.file}: nothing imported; fix them, import again"
            )
    print(
        f"imported {args.file}: {len(report.created)} created, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, 0 invalid"
    )


def _line(device: Device) -> str:
    state = "enabled" if device.enabled else "disabled"
    return (
        f"{device.name:<30} {device.address:<30} {device.platform:<16} {device.site or '-':<10} "
        f"{state:<8} {','.join(device.tags) or '-'}"
    )


def cmd_list(settings: Settings, args: argparse.Namespace) -> None:
    where = DeviceFilter(
        site=args.site, platform=args.platform, tags=args.tag, enabled=args.enabled, name_prefix=args.q
    )
    with session_factory(settings)() as session:
        devices, total = page_of_devices(session, where, LIST_LIMIT, 0)
        for device in devices:
            print(_line(device))
    print(f"{total} device(s)")


def add_commands(commands: Any) -> None:
    """``devices import FILE`` and ``devices list`` with the API's filters."""
    devices = commands.add_parser("devices", help="the device inventory")
    sub = devices.add_subparsers(dest="devices_command", required=True)
    importing = sub.add_parser(
        "import",
        help="add or update devices from a CSV (name,address,platform,site,tags; tags ';'-separated) "
        "or YAML file; all rows or none",
    )
    importing.add_argument("file")
    importing.set_defaults(func=cmd_import)
    listing = sub.add_parser("list", help="the devices by name, filtered")
    listing.add_argument("--site")
    listing.add_argument("--platform", choices=PLATFORMS)
    listing.add_argument("--tag", action="append", default=[], help="repeat: devices with every tag")
    listing.add_argument("--q", metavar="PREFIX", help="names starting with PREFIX")
    state = listing.add_mutually_exclusive_group()
    state.add_argument("--enabled", dest="enabled", action="store_const", const=True, default=None)
    state.add_argument("--disabled", dest="enabled", action="store_const", const=False)
    listing.set_defaults(func=cmd_list)
