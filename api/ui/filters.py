"""The dashboard's filters, checked by the API's own query schemas: one validation for both.

A page passes its query string and the API schema of the same filters; a wrong value raises
``FilterError`` naming the field as the page calls it, and the page answers 400 with it.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from marshmallow import EXCLUDE, Schema, ValidationError
from webargs.multidictproxy import MultiDictProxy
from werkzeug.datastructures import MultiDict


class FilterError(ValueError):
    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field = field


def _first_error(messages: Any, field: str = "") -> Iterator[tuple[str, str]]:
    """(top-level field, message) of the first error in marshmallow's nested messages."""
    if isinstance(messages, Mapping):
        for key, value in messages.items():
            yield from _first_error(value, field or str(key))
    elif isinstance(messages, list | tuple):
        for value in messages:
            yield from _first_error(value, field)
    else:
        yield field, str(messages)


def load_filters(
    schema: type[Schema], fields: tuple[str, ...], args: MultiDict[str, str], names: Mapping[str, str] = {}
) -> dict[str, Any]:
    """``fields`` of ``schema`` from a page's query ``args`` (blank values are no filter; ``names``
    maps the page's parameter names to the schema's); raises FilterError."""
    loader = schema(only=fields, unknown=EXCLUDE)
    given = MultiDict(
        [(names.get(key, key), value.strip()) for key, value in args.items(multi=True) if value.strip()]
    )
    try:
        loaded: dict[str, Any] = loader.load(MultiDictProxy(given, loader))
    except ValidationError as error:
        field, message = next(_first_error(error.messages), ("_schema", "invalid"))
        page_name = {schema_name: name for name, schema_name in names.items()}.get(field, field)
        raise FilterError(page_name, message) from None
    return loaded
