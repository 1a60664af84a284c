"""Windows and devices made through the real API, for the maintenance tests."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest


def iso(moment: datetime) -> str:
    return moment.isoformat()


@pytest.fixture
def open_window(client, users) -> Callable[..., dict[str, Any]]:  # type: ignore[no-untyped-def]
    """POST /maintenance-windows as the admin: open from a minute ago for an hour unless told."""

    def create(match: dict[str, Any], **fields: Any) -> dict[str, Any]:
        now = datetime.now(UTC)
        body = {
            "starts_at": iso(now - timedelta(minutes=1)),
            "ends_at": iso(now + timedelta(hours=1)),
            "match": match,
            "reason": "core upgrade CHG-1",
            **fields,
        }
        response = client.post("/maintenance-windows", json=body, headers=users.admin.headers)
        assert response.status_code == 201, response.get_json()
        return dict(response.get_json())

    return create


@pytest.fixture
def add_device(client, users) -> Callable[..., None]:  # type: ignore[no-untyped-def]
    """POST /devices as the admin."""

    def add(name: str, **fields: Any) -> None:
        response = client.post("/devices", json={"name": name, **fields}, headers=users.admin.headers)
        assert response.status_code == 201, response.get_json()

    return add
