"""``/docs``: Swagger UI from the swagger-ui-bundle package (works offline), started by a file of ours.

flask-smorest's own page starts Swagger UI with an inline script, which the pages'
Content-Security-Policy (``api/security_headers.py``: scripts only from our own files) refuses;
this page loads ``/ui/static/docs.js`` instead, which reads the spec's URL from the page.
"""

from __future__ import annotations

from flask import Blueprint, Flask, current_app, render_template_string, url_for
from swagger_ui_bundle import swagger_ui_path

ASSETS_URL = "/docs/assets/"
DOCS_ENDPOINT = "api-docs.openapi_swagger_ui"  # flask-smorest's rule for OPENAPI_SWAGGER_UI_PATH

DOCS_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>{{ title }}</title>
  <link href="{{ assets }}swagger-ui.css" rel="stylesheet">
</head>
<body>
  <div id="swagger-ui-container" data-spec-url="{{ spec_url }}"></div>
  <script src="{{ assets }}swagger-ui-bundle.js"></script>
  <script src="{{ start_script }}"></script>
</body>
</html>
"""


def docs_page() -> str:
    return render_template_string(
        DOCS_PAGE,
        title=current_app.config["API_TITLE"],
        assets=ASSETS_URL,
        spec_url=url_for("api-docs.openapi_json"),
        start_script=url_for("ui.static", filename="docs.js"),
    )


def init_app(app: Flask) -> None:
    """Serve Swagger UI's files and replace flask-smorest's ``/docs`` page (registered already)."""
    app.register_blueprint(
        Blueprint(
            "docs_assets", __name__, static_folder=swagger_ui_path, static_url_path=ASSETS_URL.rstrip("/")
        )
    )
    app.view_functions[DOCS_ENDPOINT] = docs_page
