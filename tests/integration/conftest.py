"""Fixtures of the integration tests of other Celery apps: the API's client and users (tests/api)."""

from tests.api.conftest import app, client, make_api_user, users

__all__ = ["app", "client", "make_api_user", "users"]
