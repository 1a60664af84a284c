"""The dashboard: server-rendered pages under ``/ui/`` with a little JavaScript, every asset ours."""

from __future__ import annotations

from flask import Flask

from api.ui import (  # noqa: F401 - they add their routes
    account_pages,
    backup_pages,
    batch_pages,
    device_pages,
    job_pages,
    launch_pages,
    maintenance_pages,
    ops_pages,
    route_pages,
    schedule_pages,
    team_pages,
)
from api.ui.blueprint import blp


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
