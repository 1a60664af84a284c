"""Headers on every answer: ``nosniff``, and a Content-Security-Policy (on pages: only our own
files, never in a frame; on anything else: nothing at all may load)."""

from __future__ import annotations

from flask import Flask, Response

# Every script, style and image of the dashboard and /docs is ours; data: images are Swagger UI's
# and the dashboard's icons. No inline script: a page cannot be made to run anything but our files.
PAGE_POLICY = (
    "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
    "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'"
)
# JSON, CSV, event streams, files: if a browser ever renders one as a document, it loads nothing.
NON_PAGE_POLICY = "default-src 'none'; frame-ancestors 'none'; base-uri 'none'"


def add_security_headers(response: Response) -> Response:
    # setdefault: a view that knows better (none today) keeps its own value.
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    page = response.mimetype == "text/html"
    response.headers.setdefault("Content-Security-Policy", PAGE_POLICY if page else NON_PAGE_POLICY)
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def init_app(app: Flask) -> None:
    app.after_request(add_security_headers)
