"""Limits on what a request may make the API do: body size, JSON nesting, URL and header size.

Each refusal is a JSON error (413, 400, 414, 431) raised before any view or parser touches the body.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate

from flask import Flask, request

from api.errors import fail
from netraven_tasks.settings import Settings

MAX_URL_BYTES = 4096
MAX_HEADER_BYTES = 16 * 1024
MAX_HEADER_FIELDS = 100

# Every byte but the four brackets is deleted, then each bracket maps to +1/-1 (signed bytes).
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEP = bytes.maketrans(b"[]{}", b"\x01\xff\x01\xff")
_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)


def json_depth(body: bytes) -> int:
    """How deep the brackets of a JSON text nest, ignoring those inside strings (linear, no recursion)."""
    outside_strings = _STRING.sub(b"", body)
    steps = array("b", outside_strings.translate(None, _NOT_BRACKETS).translate(_STEP))  # +1 / -1
    return max(accumulate(steps), default=0)


def init_app(app: Flask, settings: Settings) -> None:
    # Werkzeug refuses a larger Content-Length with 413, but cuts a chunked body at the limit
    # without a word: one byte more than allowed is read, so the check below can tell.
    app.config["MAX_CONTENT_LENGTH"] = settings.max_body_bytes + 1
    app.config["MAX_FORM_MEMORY_SIZE"] = settings.max_body_bytes

    @app.before_request
    def refuse_oversized_requests() -> None:
        if len(request.environ.get("RAW_URI") or request.full_path) > MAX_URL_BYTES:
            fail(414, f"the URL is longer than {MAX_URL_BYTES} bytes")
        headers = list(request.headers.items())
        if len(headers) > MAX_HEADER_FIELDS or sum(len(k) + len(v) for k, v in headers) > MAX_HEADER_BYTES:
            fail(431, f"send at most {MAX_HEADER_FIELDS} headers and {MAX_HEADER_BYTES} bytes of them")
        if request.content_length is not None and request.content_length > settings.max_body_bytes:
            fail(413, f"the request body is larger than {settings.max_body_bytes} bytes")
        if request.method in {"POST", "PUT", "PATCH", "DELETE"}:
            body = request.get_data(cache=True)
            if len(body) > settings.max_body_bytes:
                fail(413, f"the request body is larger than {settings.max_body_bytes} bytes")
            if request.is_json and json_depth(body) > settings.max_json_depth:
                fail(400, f"the JSON body nests deeper than {settings.max_json_depth} levels")
