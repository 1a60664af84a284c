"""Fixtures of the configuration-change tests: the API's client and users, the inventory, mail."""

from __future__ import annotations

from tests.api.conftest import app, client, make_api_user, users  # noqa: F401 - shared fixtures
from tests.fleet.conftest import add_devices  # noqa: F401 - inventory rows
from tests.notifications.conftest import make_user, settled_mail  # noqa: F401 - the mail sentinel
