"""Fixtures of the fleet-run tests: the API's client and users, and inventory rows written directly."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import pytest

from tests.api.conftest import app, client, make_api_user, users  # noqa: F401 - shared fixtures
from tests.notifications.conftest import http_receiver  # noqa: F401 - summaries' webhooks


@pytest.fixture
def add_devices(settings, clean_db) -> Callable[..., list[str]]:  # type: ignore[no-untyped-def]
    """Write inventory rows (name, address) in one transaction; returns their names."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.devices.models import Device

    def add(
        devices: Sequence[tuple[str, str]], site: str = "FRA", tags: Sequence[str] = ("core",)
    ) -> list[str]:
        with session_factory(settings).begin() as session:
            for name, address in devices:
                device = Device(name=name, address=address, platform="generic", site=site, enabled=True)
                device.set_tags(list(tags))
                session.add(device)
        return [name for name, _ in devices]

    return add
