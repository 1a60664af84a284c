"""The recorder's bulk writes on PostgreSQL: entries by COPY, new rows by one INSERT … unnest.

Why: a multi-row INSERT of thousands of rows makes psycopg2 build, and the server parse and
plan, one huge statement; that was most of a recorder batch's time. COPY streams the entries
in PostgreSQL's text format (values escaped: backslash, tab, newline, carriage return; ``\\N``
for NULL, so no value is ever read as SQL). New job-log rows need their ids back and must skip
a row another transaction created, which COPY cannot do: they go as one array per column into
a single ``INSERT … SELECT FROM unnest(…) ON CONFLICT DO NOTHING RETURNING``.
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r"})


def copy_value(value: Any) -> str:
    """One value in COPY's text format."""
    if value is None:
        return "\\N"
    if isinstance(value, str):
        return value.translate(_ESCAPES)
    if isinstance(value, datetime):
        if value.tzinfo is None:  # as the ORM's UTCDateTime: never guess a naive time's zone
            raise ValueError("naive datetime given; use an aware UTC datetime")
        return value.isoformat()
    if isinstance(value, dict | list):
        value = json.dumps(value, default=str)
    return str(value).translate(_ESCAPES)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value, default=str)


def insert_unnest(
    session: Session,
    table: str,
    columns: Sequence[tuple[str, str]],
    rows: Sequence[Sequence[Any]],
    conflict: str,
    returning: Sequence[str],
) -> list[tuple[Any, ...]]:
    """Insert ``rows`` (values in ``columns`` order: (name, SQL type)) with one statement, one
    array parameter per column; rows whose ``conflict`` column exists already are skipped."""
    arrays = [
        [_json(row[i]) for row in rows] if sql_type == "jsonb" else [row[i] for row in rows]
        for i, (_, sql_type) in enumerate(columns)
    ]
    # Names and types are the caller's constants, never data; every value goes as a parameter.
    statement = (
        f"INSERT INTO {table} ({', '.join(name for name, _ in columns)}) "  # noqa: S608
        f"SELECT * FROM unnest({', '.join(f'%s::{sql_type}[]' for _, sql_type in columns)}) "
        f"ON CONFLICT ({conflict}) DO NOTHING RETURNING {', '.join(returning)}"
    )
    cursor = session.connection().connection.cursor()
    try:
        cursor.execute(statement, arrays)
        return [tuple(row) for row in cursor.fetchall()]
    finally:
        cursor.close()


def copy_rows(session: Session, table: str, columns: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """Append ``rows`` to ``table`` with one COPY inside the session's transaction."""
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(copy_value(value) for value in row))
        buffer.write("\n")
    buffer.seek(0)
    cursor = session.connection().connection.cursor()
    try:
        cursor.copy_expert(f"COPY {table} ({', '.join(columns)}) FROM STDIN", buffer)
    finally:
        cursor.close()
