"""CSV answers of the list endpoints: ``?format=csv`` or ``Accept: text/csv``, same filters, streamed.

A spreadsheet runs a cell that starts with ``=``, ``+``, ``-`` or ``@`` (or a tab or carriage
return, which some read past) as a formula: job arguments, device names and error messages come
from users and devices, so such a cell is written with a leading ``'`` (OWASP's advice), and every
cell is quoted by the csv module where it must be. Values that are objects (arguments, results)
are their JSON text. Rows are written as they are read from the database, a chunk at a time.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

from flask import Response, request
from marshmallow import fields, validate

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
FORMATS = ("json", "csv")
CHUNK_ROWS = 500


def format_field() -> fields.String:
    """The ``format`` query parameter of a list that can answer CSV."""
    return fields.String(
        validate=validate.OneOf(FORMATS),
        metadata={"description": "csv: every matching row as CSV (no paging), as Accept: text/csv"},
    )


def csv_alternative(json_schema: dict[str, Any]) -> dict[str, Any]:
    """``@blp.doc(**csv_alternative(...))``: the 200 answer as JSON (``json_schema``, as
    ``@blp.response`` documents it: a manual doc replaces that content) or as CSV."""
    csv_schema = {"type": "string", "description": "a header row, then one row each"}
    content = {"application/json": {"schema": json_schema}, "text/csv": {"schema": csv_schema}}
    return {"responses": {"200": {"content": content}}}


def wants_csv(query: dict[str, Any]) -> bool:
    if query.get("format") is not None:
        return bool(query["format"] == "csv")
    best = request.accept_mimetypes.best_match(["application/json", "text/csv"])
    return best == "text/csv"


def cell(value: Any) -> str:
    """One value as safe CSV text."""
    if value is None:
        return ""
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str, sort_keys=True)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_START) else text


def csv_lines(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Iterator[str]:
    """The CSV text: the header, then the rows, ``CHUNK_ROWS`` rows per piece."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(header)
    for number, row in enumerate(rows, start=1):
        writer.writerow([cell(value) for value in row])
        if number % CHUNK_ROWS == 0:
            yield buffer.getvalue()
            buffer.seek(0)
            buffer.truncate()
    yield buffer.getvalue()


def csv_response(filename: str, header: Sequence[str], rows: Iterable[Sequence[Any]]) -> Response:
    return Response(
        csv_lines(header, rows),  # no request context while it streams: ``rows`` holds what it needs
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "Cache-Control": "no-store"},
    )
