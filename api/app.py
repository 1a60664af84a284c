"""``create_app()``: builds the Flask app from the settings in the environment."""

from __future__ import annotations

from flask import Flask

from api import (
    audit,
    auth_routes,
    batches,
    compliance,
    context,
    devices,
    docs_assets,
    error_map,
    health,
    inbox,
    inventory,
    job_logs,
    jobs,
    maintenance,
    metrics,
    notifications,
    preferences,
    rate_limit,
    request_limits,
    routes,
    schedules,
    security_headers,
    statistics,
    stream,
    strict_query,
    teams,
    tokens,
    ui,
)
from api.errors import NetRavenApi
from api.schemas import document_storable_text
from api.security import BEARER_SCHEME, SECURITY_SCHEME_NAME
from netraven_tasks.logging_setup import configure_logging
from netraven_tasks.settings import Settings, get_settings


def create_app(settings: Settings | None = None) -> Flask:
    settings = settings or get_settings()
    configure_logging(settings)  # JSON lines with NETRAVEN_LOG_FORMAT=json, like the workers
    app = Flask("netraven_api")
    app.config.update(
        API_TITLE="NetRaven Tasks",
        API_VERSION="1.0",
        OPENAPI_VERSION="3.0.3",
        OPENAPI_URL_PREFIX="/",
        OPENAPI_JSON_PATH="openapi.json",
        OPENAPI_SWAGGER_UI_PATH="/docs",
        OPENAPI_SWAGGER_UI_URL=docs_assets.ASSETS_URL,  # served by us from swagger-ui-bundle: no CDN
        # Every operation needs a bearer token unless it says otherwise (security=[]).
        API_SPEC_OPTIONS={"security": [{SECURITY_SCHEME_NAME: []}]},
    )
    app.extensions[context.SETTINGS_KEY] = settings
    context.init_app(app)
    audit.init_app(app)  # before any other hook: a state-changing request's audit draft
    # security: the API's edges, before any view
    request_limits.init_app(app, settings)
    security_headers.init_app(app)  # nosniff on every answer, a CSP on every page
    rate_limit.init_app(app, settings)
    api = NetRavenApi(app)
    api.ma_plugin.converter.add_attribute_function(document_storable_text)  # InputSchema's check
    error_map.init_app(app, api)  # domain errors -> HTTP, for every view
    api.spec.components.security_scheme(SECURITY_SCHEME_NAME, BEARER_SCHEME)
    batches.document_targets(api.spec)  # before the blueprints that refer to it

    # lazy: the Celery app (and the job types it loads) is built for an API app, not by importing
    # `api` (gunicorn imports api.gunicorn_config before it forks).
    from netraven_tasks import celery_app  # noqa: F401

    api.register_blueprint(health.blp)
    api.register_blueprint(auth_routes.blp)
    api.register_blueprint(jobs.blp)
    api.register_blueprint(statistics.blp)  # before job_logs: /job-logs/statistics is no id
    # dashboard: GET /job-logs/stream (Server-Sent Events)
    api.register_blueprint(stream.blp)
    api.register_blueprint(job_logs.blp)
    api.register_blueprint(preferences.blp)
    api.register_blueprint(notifications.blp)
    # operations: GET /metrics (Prometheus)
    api.register_blueprint(metrics.blp)
    # security: configuration backups, per device and history
    api.register_blueprint(devices.blp)
    # fleet: the device inventory, GET|POST /devices, GET|PATCH|DELETE /devices/{name}
    api.register_blueprint(inventory.blp)
    # compliance: GET /devices/{name}/compliance, the latest result of a device
    api.register_blueprint(compliance.blp)
    # fleet: batches, POST /jobs/{job_type}/batches, GET /batches, GET /batches/{id}, cancel, rerun
    api.register_blueprint(batches.blp)
    # dashboard: the /ui/ pages, and Swagger UI's files for /docs
    ui.init_app(app)
    docs_assets.init_app(app)

    # schedules: GET|POST /schedules, GET|PATCH|DELETE /schedules/{id}
    api.register_blueprint(schedules.blp)
    # schedules: in-app notifications, GET /users/me/inbox
    api.register_blueprint(inbox.blp)
    api.register_blueprint(tokens.blp)
    api.register_blueprint(audit.blp)
    api.register_blueprint(maintenance.blp)
    # teams: GET|POST /teams, GET|PATCH|DELETE /teams/{id}, PUT|DELETE /teams/{id}/members/{user_id}
    api.register_blueprint(teams.blp)
    # routes: GET|POST /routes, GET|PATCH|DELETE /routes/{route_id}, GET /routes/{route_id}/deliveries
    api.register_blueprint(routes.blp)

    strict_query.init_app(app, api)  # after every blueprint: it reads their parameters from the spec
    rate_limit.limit_logins(app, "auth.Token")  # security: after the view is registered
    return app
