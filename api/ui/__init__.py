"""The dashboard: server-rendered pages under ``/ui/`` with a little JavaScript, every asset ours."""

from __future__ import annotations

from flask import Blueprint, Flask

from api.ui.session import current_csrf

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
    from api.ui.session import page_caller

    return {"csrf_token": current_csrf(), "me": page_caller()}


@blp.after_request
def _page_headers(response):  # type: ignore[no-untyped-def]
    # Every script and style is ours: a page cannot be made to load anything from elsewhere.
    response.headers.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "
        "connect-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    )
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    if response.mimetype == "text/html":
        response.headers.setdefault("Cache-Control", "no-store")
    return response


def init_app(app: Flask) -> None:
    from api.ui import account_pages, job_pages, ops_pages  # noqa: F401 - they add their routes

    app.register_blueprint(blp)
