"""The ``/ui`` blueprint the page modules add their routes to, with what every page gets."""

from __future__ import annotations

from flask import Blueprint

from api.ui.session import current_csrf, page_caller

blp = Blueprint(
    "ui",
    __name__,
    url_prefix="/ui",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@blp.context_processor
def _page_context() -> dict[str, object]:
    return {"csrf_token": current_csrf(), "me": page_caller()}


@blp.after_request
def _page_headers(response):  # type: ignore[no-untyped-def]
    # The Content-Security-Policy and nosniff of every answer come from api/security_headers.py.
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response
