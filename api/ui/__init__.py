"""The dashboard: server-rendered pages under ``/ui/`` with a little JavaScript, every asset ours."""

from __future__ import annotations

from flask import Flask

from api.ui import account_pages, device_pages, job_pages, ops_pages  # noqa: F401 - they add their routes
from api.ui.blueprint import blp


def init_app(app: Flask) -> None:
    app.register_blueprint(blp)
