"""Dashboard pages of configuration backups: a device's history, one version (its text, or the
diff from another version as people read it: normalised, secrets masked) and its raw download.

Who reads which history is the API's rule (``readable_history``): admins the shared history or a
user's (``?owner=``), everyone else their own. A version of another device or history, like an
unknown or malformed sha256, is the not-found page, as the API answers 404.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, NoReturn
from urllib.parse import quote, urlencode

from flask import Response, render_template, request
from marshmallow import ValidationError, fields, validate

from api.context import current_settings, db_session
from api.devices import SHA256, ContentQuerySchema, HistoryQuerySchema, readable_diff, version_name
from api.ui.blueprint import blp
from api.ui.diff_view import diff_rows
from api.ui.filters import FilterError, load_filters
from api.ui.paging import MAX_PAGE, pager, window
from api.ui.session import caller, signed_in
from netraven_tasks.backups.queries import (
    HistoryForbidden,
    VersionRow,
    history_owners,
    newest_version,
    readable_history,
    version_page,
)
from netraven_tasks.backups.store import read_content
from netraven_tasks.devices.inventory import find_device
from netraven_tasks.devices.models import Device
from netraven_tasks.jobs.hosts import validate_host
from netraven_tasks.models import User

PAGE_SIZE = 50
MAX_DIFF_ROWS = 5_000  # diff lines rendered; the rest are counted
MAX_CONTENT_LINES = 20_000  # lines of a version's text rendered; the raw download has them all
UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")


class BackupPageSchema(HistoryQuerySchema):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=MAX_PAGE))


class Refused(Exception):
    """The page cannot be shown: ``answer`` is the page and status to give instead."""

    def __init__(self, answer: tuple[str, int]):
        super().__init__(answer[1])
        self.answer = answer


@blp.errorhandler(Refused)
def _refused(error: Refused) -> tuple[str, int]:
    return error.answer


def _not_found(what: str) -> NoReturn:
    raise Refused((render_template("ui/not_found.html", title="Not found", what=what), 404))


@dataclass(frozen=True)
class Reading:
    """Which history of which device a page shows, and the query it was asked with."""

    device: str  # the history's key: the inventory name, or the host of a device not in it
    known: Device | None
    namespace: int | None  # the history: None is the shared one
    owner: int | None  # the ``owner`` asked for (admins), kept in every link
    query: dict[str, Any]

    def link(self, sha256: str = "", suffix: str = "", **params: Any) -> str:
        """A backups page of this history: the list, a version, its ``/raw``."""
        path = f"/ui/devices/{quote(self.device)}/backups" + (f"/{sha256}{suffix}" if sha256 else "")
        given = {"owner": self.owner, **params}
        query = urlencode({key: value for key, value in given.items() if value is not None})
        return f"{path}?{query}" if query else path


def _reading(name: str, schema: type[HistoryQuerySchema], names: tuple[str, ...]) -> Reading:
    """The device, history and query of a request, or Refused: an impossible host is not found,
    a bad parameter a 400 naming it, another user's history (not an admin) forbidden."""
    try:
        validate_host(name)
    except ValidationError:
        _not_found("such device")
    try:
        query = load_filters(schema, names, request.args)
    except FilterError as error:
        page = render_template("ui/refused.html", title="Bad request", error=str(error))
        raise Refused((page, 400)) from None
    me = caller()
    try:
        namespace = readable_history(me.id, me.is_admin, query.get("owner"))
    except HistoryForbidden as error:
        page = render_template("ui/forbidden.html", title="Backups", what=str(error))
        raise Refused((page, 403)) from None
    return Reading(name, find_device(db_session(), name), namespace, query.get("owner"), query)


def change_label(version: VersionRow) -> str:
    """The version against the previous one: ``first``, ``unchanged``, ``+N \u2212M`` (a minus
    sign, as in the change messages), or ``—`` when the counts were not kept (stored before)."""
    if version.previous_sha256 is None:
        return "first"
    if version.lines_added is None or version.lines_removed is None:
        return "unchanged" if version.sha256 == version.previous_sha256 else "—"
    if not (version.lines_added or version.lines_removed):
        return "unchanged"
    return f"+{version.lines_added} \u2212{version.lines_removed}"


def version_items(reading: Reading, versions: list[VersionRow]) -> list[dict[str, Any]]:
    """The rows of a versions table: each version with its label and its view and diff links."""
    return [
        {
            "version": version,
            "change": change_label(version),
            "view": reading.link(version.sha256),
            "diff": reading.link(version.sha256, diff=version.previous_sha256)
            if version.previous_sha256
            else None,
        }
        for version in versions
    ]


def _history_name(reading: Reading) -> str:
    """What the page calls the history it shows: shared, the reader's own, or a user's."""
    if reading.namespace is None:
        return "Shared history"
    if reading.namespace == caller().id:
        return "Your history"
    user = db_session().get(User, reading.namespace)
    return f"{user.username if user else f'user {reading.namespace}'}'s history"


@blp.route("/devices/<string:name>/backups")
@signed_in
def device_backups(name: str) -> Any:
    reading = _reading(name, BackupPageSchema, ("owner", "page"))
    number = reading.query["page"]
    session = db_session()
    versions, total = version_page(session, reading.device, reading.namespace, *window(number, PAGE_SIZE))
    return render_template(
        "ui/device_backups.html",
        title=f"Backups of {reading.device}",
        reading=reading,
        history=_history_name(reading),
        versions=version_items(reading, versions),
        owners=history_owners(session, reading.device) if caller().is_admin else [],
        pages=pager(number, total, PAGE_SIZE, lambda to: reading.link(page=to)),
    )


def _content(reading: Reading, sha256: str) -> bytes:
    """The content of a version of this history, or the not-found page."""
    content = read_content(db_session(), reading.device, reading.namespace, sha256)
    if content is None:
        _not_found(f"backup {sha256[:12]} of {reading.device}")
    return content


@blp.route("/devices/<string:name>/backups/<string:sha256>")
@signed_in
def backup_version(name: str, sha256: str) -> Any:
    reading = _reading(name, ContentQuerySchema, ("owner", "diff"))
    if not SHA256.match(sha256):
        _not_found("such backup")
    version = newest_version(db_session(), reading.device, reading.namespace, sha256)
    if version is None:
        _not_found(f"backup {sha256[:12]} of {reading.device}")
    content = _content(reading, sha256)
    page = {"reading": reading, "version": version, "item": version_items(reading, [version])[0]}
    other = reading.query.get("diff")
    if other is None:
        lines = content.decode("utf-8", "replace").splitlines()
        return render_template(
            "ui/backup_version.html", title=version_name(reading.device, sha256), **page,
            lines=lines[:MAX_CONTENT_LINES], omitted=max(0, len(lines) - MAX_CONTENT_LINES),
        )  # fmt: skip
    diff = readable_diff(reading.device, (other, _content(reading, other)), (sha256, content), MAX_DIFF_ROWS)
    return render_template(
        "ui/backup_diff.html", title=f"{version_name(reading.device, other)} → {sha256[:12]}", **page,
        other=other, diff=diff, rows=diff_rows(diff.lines), masked=current_settings().config_mask_secrets,
    )  # fmt: skip


def download_name(device: str, sha256: str) -> str:
    """``<device>-<sha12>.cfg`` with anything but letters, digits, ``._-`` made ``_``."""
    return f"{UNSAFE_IN_FILENAME.sub('_', device)}-{sha256[:12]}.cfg"


@blp.route("/devices/<string:name>/backups/<string:sha256>/raw")
@signed_in
def backup_raw(name: str, sha256: str) -> Any:
    reading = _reading(name, HistoryQuerySchema, ("owner",))
    if not SHA256.match(sha256):
        _not_found("such backup")
    content = _content(reading, sha256)
    return Response(
        content,
        mimetype="text/plain",  # Flask adds charset=utf-8
        headers={
            "Content-Disposition": f'attachment; filename="{download_name(reading.device, sha256)}"',
            "Cache-Control": "no-store",  # the stored text, secrets included
        },
    )
