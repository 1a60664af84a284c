"""Request bodies parsed so that no number can make a 500: the parser of every API blueprint.

webargs parses JSON with ``json.loads``, which raises a plain ValueError (not the JSONDecodeError
webargs answers 400 to) for an integer of more than 4,300 digits, and accepts ``NaN`` and
``1e999`` (infinity), which PostgreSQL's JSONB refuses. Here an integer must fit in 64 bits and a
number must be finite; anything else is a 422 naming the body.
"""

from __future__ import annotations

import json
import math
from typing import Any

import flask
import flask_smorest
from webargs import core
from webargs.flaskparser import FlaskParser, abort, is_json_request

INT64 = 2**63
# A longer literal cannot fit in 64 bits (JSON has no leading zeros): refused before int() reads it.
MAX_INTEGER_DIGITS = 25
NUMBER_RANGE = f"numbers must be finite and integers between {-INT64} and {INT64 - 1}"


class NumberOutOfRange(ValueError):
    pass


def _integer(literal: str) -> int:
    if len(literal) > MAX_INTEGER_DIGITS:
        raise NumberOutOfRange(literal[:20])
    value = int(literal)
    if not -INT64 <= value < INT64:
        raise NumberOutOfRange(literal)
    return value


def _finite(literal: str) -> float:
    value = float(literal)
    if not math.isfinite(value):
        raise NumberOutOfRange(literal[:20])
    return value


def _constant(name: str) -> Any:
    raise NumberOutOfRange(name)  # NaN, Infinity, -Infinity: not JSON


class JsonBodyParser(FlaskParser):
    def _raw_load_json(self, req: flask.Request) -> Any:
        if not is_json_request(req):
            return core.missing
        body = req.get_data(cache=True)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            return core.parse_json(body)  # webargs' own 400 for bytes that are not UTF-8
        try:
            # An empty body raises JSONDecodeError as in webargs: no body ("missing"), not an error.
            return json.loads(text, parse_int=_integer, parse_float=_finite, parse_constant=_constant)
        except NumberOutOfRange:
            abort(422, messages={"json": [NUMBER_RANGE]})


class Blueprint(flask_smorest.Blueprint):  # type: ignore[misc]
    """flask-smorest's Blueprint with ``JsonBodyParser``: use it for every API blueprint."""

    ARGUMENTS_PARSER = JsonBodyParser()
