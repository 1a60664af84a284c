"""``devices import FILE``: read a CSV or YAML inventory, check every row, then upsert all or nothing.

A row is the whole description of its device: a field left out takes its default (the address is
the name, no site, no tags, enabled), so importing the same file twice changes nothing the second
time. One invalid row and nothing is written; every invalid row is reported with its line.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from marshmallow import ValidationError
from sqlalchemy import select
from sqlalchemy.orm import Session

from netraven_tasks.devices.inventory import apply_values, new_device
from netraven_tasks.devices.models import Device
from netraven_tasks.devices.schemas import DeviceSchema, with_defaults
from netraven_tasks.models import utcnow

MAX_FILE_BYTES = 20 * 1024 * 1024
MAX_ROWS = 100_000
CSV_COLUMNS = ("name", "address", "platform", "site", "tags", "enabled")
TAG_SEPARATOR = ";"
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "1"}, {"false", "no", "0"}


class InventoryFileError(ValueError):
    """The file as a whole cannot be read (format, size, header)."""


@dataclass(frozen=True)
class RawRow:
    line: int
    fields: Any
    problem: str | None = None  # what made the row unreadable


@dataclass
class ImportReport:
    created: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    invalid: list[tuple[int, str]] = field(default_factory=list)  # (line, what is wrong)

    @property
    def imported(self) -> bool:
        return not self.invalid


def _csv_rows(text: str) -> Iterator[RawRow]:
    reader = csv.reader(io.StringIO(text, newline=""))
    header = next(reader, None)
    if not header:
        raise InventoryFileError("the CSV file is empty: its first line names the columns (name,address,…)")
    columns = [name.strip().lower() for name in header]
    unknown = [name for name in columns if name not in CSV_COLUMNS]
    if unknown or "name" not in columns or len(set(columns)) != len(columns):
        raise InventoryFileError(
            f"line 1: the header must name distinct columns among {','.join(CSV_COLUMNS)}, name included; "
            f"got {','.join(columns)[:200]}"
        )
    for values in reader:
        line = reader.line_num
        if not any(value.strip() for value in values):
            continue  # a blank line
        if len(values) != len(columns):
            yield RawRow(line, None, f"has {len(values)} fields, the header {len(columns)}")
            continue
        row: dict[str, Any] = {}
        for column, value in zip(columns, values, strict=True):
            value = value.strip()
            if column == "tags":
                row["tags"] = [tag.strip() for tag in value.split(TAG_SEPARATOR) if tag.strip()]
            elif column == "enabled" and value:
                lowered = value.lower()
                row["enabled"] = True if lowered in TRUE_WORDS else False if lowered in FALSE_WORDS else value
            elif value:  # an empty cell is the default
                row[column] = value
        yield RawRow(line, row)


def _yaml_rows(text: str) -> Iterator[RawRow]:
    try:
        # compose keeps each node's line; an alias is one shared node, never a copy (no blow-up).
        document = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise InventoryFileError(f"not valid YAML: {str(error)[:300]}") from None
    if document is None:
        return
    if isinstance(document, yaml.MappingNode):  # {devices: [...]} is accepted too
        items = [value for key, value in document.value if getattr(key, "value", None) == "devices"]
        if len(items) != 1 or len(document.value) != 1:
            raise InventoryFileError(
                "a YAML inventory is a list of devices, or a mapping with only 'devices'"
            )
        document = items[0]
    if not isinstance(document, yaml.SequenceNode):
        raise InventoryFileError(
            "a YAML inventory is a list of devices (name, address, platform, site, tags)"
        )
    loader = yaml.SafeLoader("")
    for node in document.value:
        line = node.start_mark.line + 1
        try:
            value = loader.construct_document(node)
        except yaml.YAMLError as error:
            yield RawRow(line, None, f"cannot be read: {str(error)[:200]}")
            continue
        if isinstance(value, dict) and isinstance(value.get("tags"), str):
            value["tags"] = [tag.strip() for tag in value["tags"].split(TAG_SEPARATOR) if tag.strip()]
        yield RawRow(line, value)
    loader.dispose()


def read_rows(path: Path) -> list[RawRow]:
    """The rows of an inventory file: YAML for ``.yaml``/``.yml``, CSV for ``.csv``, else by content."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise InventoryFileError(f"{path} is larger than {MAX_FILE_BYTES // 2**20} MiB")
        text = path.read_text(encoding="utf-8-sig")
    except OSError as error:
        raise InventoryFileError(f"cannot read {path}: {error.strerror or error}") from None
    except UnicodeDecodeError:
        raise InventoryFileError(f"{path} is not UTF-8 text") from None
    suffix = path.suffix.lower()
    looks_like_yaml = text.lstrip().startswith(("-", "devices:", "---"))
    is_yaml = suffix in (".yaml", ".yml") or (suffix != ".csv" and looks_like_yaml)
    rows = list(_yaml_rows(text) if is_yaml else _csv_rows(text))
    if len(rows) > MAX_ROWS:
        raise InventoryFileError(f"more than {MAX_ROWS} devices in one file: split it")
    return rows


def _problems(messages: Any) -> str:
    if isinstance(messages, dict):
        return "; ".join(f"{key}: {_problems(value)}" for key, value in messages.items())
    if isinstance(messages, list):
        return " ".join(_problems(value) for value in messages)
    return str(messages)


def check_rows(rows: list[RawRow], report: ImportReport) -> list[dict[str, Any]]:
    """Each valid row's complete values; each invalid one goes to ``report.invalid`` with its line."""
    schema = DeviceSchema()
    first_line: dict[str, int] = {}
    checked = []
    for row in rows:
        if row.problem is not None:
            report.invalid.append((row.line, row.problem))
            continue
        if not isinstance(row.fields, dict):
            report.invalid.append((row.line, "must be a mapping of name, address, platform, site, tags"))
            continue
        try:
            values = with_defaults(schema.load(row.fields))
        except ValidationError as error:
            report.invalid.append((row.line, _problems(error.messages)))
            continue
        name = values["name"]
        if name in first_line:
            report.invalid.append((row.line, f"name: {name} is already on line {first_line[name]}"))
            continue
        first_line[name] = row.line
        checked.append(values)
    return checked


def import_devices(session: Session, rows: list[RawRow]) -> ImportReport:
    """Upsert every row in ``session``'s transaction, or none when any row is invalid (the caller
    commits only a report that ``imported``)."""
    report = ImportReport()
    checked = check_rows(rows, report)
    if report.invalid:
        return report
    # The whole inventory in one read: a file of thousands of names is no IN list of thousands.
    existing = {device.name: device for device in session.scalars(select(Device))}
    now = utcnow()
    for values in checked:
        device = existing.get(values["name"])
        if device is None:
            session.add(new_device(values, now))
            report.created.append(values["name"])
        elif apply_values(device, values, now):
            report.updated.append(values["name"])
        else:
            report.unchanged.append(values["name"])
    session.flush()
    return report
