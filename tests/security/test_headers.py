"""Every answer says ``nosniff``; every page carries a Content-Security-Policy that runs only our own
files and forbids framing. Walked over every route of the app (``app.url_map``), signed out and in."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from tests.api.test_dashboard_session import _sign_in

# A value for each kind of path parameter; static files get a file that exists.
PLACEHOLDERS = {"job_type": "no_such_job", "user_id": "me", "host": "r1", "sha256": "0" * 64}
STATIC_FILES = {"ui.static": "ui.js", "docs_assets.static": "swagger-ui.css"}


def route_requests(app: Any) -> Iterator[tuple[str, str]]:
    """(method, path) for every method of every rule, its parameters filled in."""
    for rule in app.url_map.iter_rules():
        values = {
            name: STATIC_FILES.get(rule.endpoint, "x") if name == "filename" else PLACEHOLDERS.get(name, 1)
            for name in rule.arguments
        }
        with app.test_request_context():
            path = app.url_for(rule.endpoint, **values)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            yield method, path


def policy(response: Any) -> dict[str, list[str]]:
    directives = (part.split() for part in response.headers["Content-Security-Policy"].split(";"))
    return {name: sources for name, *sources in directives}


def test_every_route_says_nosniff_and_every_page_has_a_strict_policy(app, client, users):
    seen: dict[tuple[str, str, bool], tuple[int, str]] = {}
    for signed_in in (False, True):
        if signed_in:
            _sign_in(client, users.admin)
        headers = users.admin.headers if signed_in else {}
        extra = [("GET", "/no-such-page"), ("DELETE", "/jobs")]  # 404 and 405
        for method, path in [*route_requests(app), *extra]:
            body = {} if method in {"POST", "PUT", "PATCH"} else None
            # Not buffered: the event stream's headers are read, its body is never waited for.
            response = client.open(path, method=method, json=body, headers=headers, buffered=False)
            try:
                assert response.headers.get("X-Content-Type-Options") == "nosniff", (method, path)
                if response.mimetype == "text/html":
                    directives = policy(response)
                    assert directives["script-src"] == ["'self'"], (method, path)
                    assert directives["frame-ancestors"] == ["'none'"], (method, path)
                else:
                    assert policy(response)["default-src"] == ["'none'"], (method, path)
                seen[(method, path, signed_in)] = (response.status_code, response.mimetype)
            finally:
                response.close()

    # The walk reached what it is meant to check: pages, JSON, errors, the event stream, files.
    pages = {path for (_, path, _), (status, kind) in seen.items() if kind == "text/html" and status == 200}
    assert {"/docs", "/ui/sign-in", "/ui/active", "/ui/job-logs"} <= pages
    kinds = {kind for _, kind in seen.values()}
    assert {"application/json", "text/event-stream", "text/plain", "text/css", "text/javascript"} <= kinds
    assert {status for status, _ in seen.values()} >= {200, 401, 404, 405, 422}
