"""``GET /metrics``: Prometheus text format, read from the database at scrape time.

Open like ``/healthz`` unless ``NETRAVEN_METRICS_TOKEN`` is set; then the scraper sends
``Authorization: Bearer <token>`` (Prometheus: ``authorization: {credentials: ...}``).
"""

from __future__ import annotations

import hmac

from flask import Response, current_app, request
from flask.views import MethodView
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from prometheus_client.registry import CollectorRegistry

from api.errors import fail
from api.json_body import Blueprint
from netraven_tasks.db import session_factory
from netraven_tasks.metrics import build_registry
from netraven_tasks.settings import Settings

blp = Blueprint("metrics", __name__, description="Prometheus metrics")

REGISTRY_KEY = "netraven_metrics_registry"


def _registry(settings: Settings) -> CollectorRegistry:
    registry: CollectorRegistry | None = current_app.extensions.get(REGISTRY_KEY)
    if registry is None:
        registry = current_app.extensions[REGISTRY_KEY] = build_registry(settings, session_factory(settings))
    return registry


def _authorised(settings: Settings) -> bool:
    if not settings.metrics_token:
        return True
    scheme, _, credentials = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(
        credentials.strip().encode(), settings.metrics_token.encode()
    )


@blp.route("/metrics")
class Metrics(MethodView):
    @blp.doc(
        security=[],
        responses={
            "200": {
                "description": "Prometheus text exposition format",
                "content": {"text/plain": {"schema": {"type": "string"}}},
            },
            "401": {"description": "NETRAVEN_METRICS_TOKEN is set and the bearer token does not match"},
        },
    )
    def get(self) -> Response:
        settings: Settings = current_app.extensions["netraven_settings"]
        if not _authorised(settings):
            fail(401, "send Authorization: Bearer <NETRAVEN_METRICS_TOKEN> to read /metrics")
        return Response(generate_latest(_registry(settings)), mimetype=None, content_type=CONTENT_TYPE_LATEST)
