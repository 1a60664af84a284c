"""``create_app()``: builds the Flask app from the settings in the environment."""

from __future__ import annotations

from flask import Flask
from flask_smorest import Api

from netraven_tasks.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    app = Flask("netraven_api")
    app.config.update(
        API_TITLE="NetRaven Tasks",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL="https://cdn.jsdelivr.net/npm/swagger-ui-dist/",
        JSON_SORT_KEYS=False,
    )
    app.extensions["netraven_settings"] = settings
    api = Api(app)

    from api import health

    api.register_blueprint(health.blp)
    from api import metrics  # operations: GET /metrics (Prometheus)

    api.register_blueprint(metrics.blp)
    return app
