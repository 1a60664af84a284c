"""``GET /healthz``: is the database and the broker reachable."""

from __future__ import annotations

from typing import Any

from flask import current_app
from flask.views import MethodView
from sqlalchemy import text

from api.json_body import Blueprint
from netraven_tasks.db import get_engine
from netraven_tasks.settings import Settings

blp = Blueprint("health", __name__, description="Liveness and readiness")


def _check_database(settings: Settings) -> str:
    with get_engine(settings).connect() as connection:
        connection.execute(text("SELECT 1"))
    return "ok"


def _check_broker(settings: Settings) -> str:
    from kombu import Connection

    with Connection(settings.broker_url, connect_timeout=2) as connection:
        connection.ensure_connection(max_retries=1)
    return "ok"


@blp.route("/healthz")
class Health(MethodView):
    @blp.doc(security=[])  # probes carry no token
    @blp.response(200)
    @blp.alt_response(503, description="a dependency is unreachable")
    def get(self) -> tuple[dict[str, Any], int]:
        settings: Settings = current_app.extensions["netraven_settings"]
        checks: dict[str, str] = {}
        for name, check in (("database", _check_database), ("broker", _check_broker)):
            try:
                checks[name] = check(settings)
            except Exception as error:
                checks[name] = f"error: {type(error).__name__}: {error}"[:300]
        healthy = all(value == "ok" for value in checks.values())
        return {"status": "ok" if healthy else "unavailable", "checks": checks}, (200 if healthy else 503)
