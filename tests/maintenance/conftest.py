"""Fixtures of the maintenance tests: the API and notification fixtures, and windows and devices
made through the real API (``fixtures.py``)."""

from __future__ import annotations

from tests.api.conftest import app, client, make_api_user, users  # noqa: F401 - shared fixtures
from tests.maintenance.fixtures import add_device, open_window  # noqa: F401
from tests.notifications.conftest import outbox, set_preferences  # noqa: F401
