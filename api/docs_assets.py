"""Swagger UI's files for ``/docs``, served from the swagger-ui-bundle package: /docs works offline."""

from __future__ import annotations

from flask import Blueprint, Flask
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets/"


def init_app(app: Flask) -> None:
    app.register_blueprint(
        Blueprint(
            "docs_assets", __name__, static_folder=swagger_ui_path, static_url_path=ASSETS_URL.rstrip("/")
        )
    )
