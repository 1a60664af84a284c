"""The base of every input schema: a string a client sends must be one every database can store.

PostgreSQL refuses NUL in text and JSONB, and psycopg2 and SQLite cannot encode a lone UTF-16
surrogate (JSON's ``"\\ud800"``): either fails at flush as a 500. ``InputSchema`` checks every
string it is given, keys and values at any depth, before its fields load, and names the field.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, pre_load

NUL = "must not contain NUL characters"
SURROGATE = "must not contain lone surrogates (text that is not valid Unicode)"


def unstorable(text: str) -> str | None:
    """Why ``text`` cannot be stored (the message for its field), or None if it can."""
    if "\x00" in text:
        return NUL
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return SURROGATE
    return None


def _readable(key: Any) -> str:
    """A key fit to name in an error (its NUL and surrogates escaped)."""
    return str(key).encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\x00")[:100]


def _problems(value: Any) -> Iterator[tuple[list[str], str]]:
    """(path, message) of each unstorable string inside a JSON-like value."""
    if isinstance(value, str):
        if (reason := unstorable(value)) is not None:
            yield [], reason
    elif isinstance(value, Mapping):
        for key, item in value.items():
            if isinstance(key, str) and (reason := unstorable(key)) is not None:
                yield [_readable(key)], f"field names {reason}"
                continue
            for path, message in _problems(item):
                yield [str(key), *path], message
    elif isinstance(value, list | tuple):
        for index, item in enumerate(value):
            for path, message in _problems(item):
                yield [str(index), *path], message


def storable_errors(value: Any) -> dict[str, Any]:
    """Marshmallow-shaped errors (``{"a": {"b": [message]}}``) for every unstorable string."""
    errors: dict[str, Any] = {}
    for path, message in _problems(value):
        node = errors
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node.setdefault(path[-1] if path else "_schema", []).append(message)
    return errors


class InputSchema(Schema):
    """A schema of what a client sends (bodies, queries): every string it holds is storable."""

    @pre_load
    def refuse_unstorable_text(self, data: Any, **_: Any) -> Any:
        errors = storable_errors(data)
        if errors:
            raise ValidationError(errors)
        return data
