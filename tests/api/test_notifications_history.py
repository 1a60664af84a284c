"""GET /users/{user_id}/notifications: what was sent to a user, newest first, only to them or an admin."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from netraven_tasks.models import utcnow

URL = "/users/{}/notifications"


@pytest.fixture
def outbox_rows(settings, users):  # type: ignore[no-untyped-def]
    """Alice: three sent (one an hourly digest) and one still pending; Bob: one sent."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.notifications.models import OutboxMessage

    now = utcnow()

    def row(user_id: int, n: int, state: str = "sent", **extra) -> OutboxMessage:  # type: ignore[no-untyped-def]
        return OutboxMessage(
            user_id=user_id, channel="email", kind=extra.pop("kind", "job"), address="x@example.test",
            subject=f"message {n}", body_text="body", message_id=f"<{n}@test>", state=state,
            attempts=1, sent_at=now - timedelta(minutes=10 - n) if state == "sent" else None,
            provider_message_id=f"queued as {n}" if state == "sent" else None, **extra,
        )  # fmt: skip

    with session_factory(settings).begin() as session:
        session.add_all(
            [
                row(users.alice.id, 1, event="failed"),
                row(users.alice.id, 2, kind="digest", period="hourly", period_start=now.replace(minute=0)),
                row(users.alice.id, 3, event="completed"),
                row(users.alice.id, 4, state="pending", event="completed"),
                row(users.bob.id, 5, event="failed"),
            ]
        )


@pytest.mark.usefixtures("outbox_rows")
def test_a_user_sees_what_was_sent_to_them_newest_first(client, users):
    response = client.get(URL.format("me"), headers=users.alice.headers)
    assert response.status_code == 200
    body = response.get_json()
    assert [m["subject"] for m in body] == ["message 3", "message 2", "message 1"]
    assert body[1]["kind"] == "digest" and body[1]["period"] == "hourly"
    assert body[0]["provider_message_id"] == "queued as 3"
    assert json.loads(response.headers["X-Pagination"])["total"] == 3


@pytest.mark.usefixtures("outbox_rows")
def test_pages_of_the_history(client, users):
    response = client.get(URL.format("me") + "?page=2&page_size=2", headers=users.alice.headers)
    assert [m["subject"] for m in response.get_json()] == ["message 1"]
    assert json.loads(response.headers["X-Pagination"])["total_pages"] == 2


@pytest.mark.usefixtures("outbox_rows")
def test_another_users_history_is_403_for_a_user_and_visible_to_an_admin(client, users):
    refused = client.get(URL.format(users.alice.id), headers=users.bob.headers)
    assert refused.status_code == 403
    assert refused.get_json()["message"] == "you may only access your own notifications"
    seen = client.get(URL.format(users.bob.id), headers=users.admin.headers)
    assert [m["subject"] for m in seen.get_json()] == ["message 5"]
    assert client.get(URL.format(999_999), headers=users.admin.headers).status_code == 404
    assert client.get(URL.format("me")).status_code == 401
