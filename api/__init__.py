"""The REST API: a Flask app factory with flask-smorest blueprints, one per resource."""

from __future__ import annotations

from flask import Flask

from api.app import create_app

__all__ = ["Flask", "create_app"]
