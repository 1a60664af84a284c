"""Fixtures of the job tests: the API's client and users, and the negative mail check."""

from __future__ import annotations

from tests.api.conftest import app, client, make_api_user, users  # noqa: F401 - shared fixtures
from tests.notifications.conftest import make_user, settled_mail  # noqa: F401 - shared fixtures
