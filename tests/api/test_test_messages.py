"""``POST /users/me/notifications/test`` through the real API, outbox and worker: the test mail
reaches the SMTP server, the webhook test reaches a local receiver, a channel not set up or
unknown is a 422 naming ``channel``, the sixth test in ten minutes a 429, and one message's state
is readable by its recipient (and an admin) only."""

from __future__ import annotations

import pytest

from netraven_tasks.notifications.test_messages import TESTS_PER_WINDOW
from tests.conftest import eventually
from tests.support.receiver import http_receiver

__all__ = ["http_receiver"]


def _state(client, user, message_id):  # type: ignore[no-untyped-def]
    return client.get(f"/users/me/notifications/{message_id}", headers=user.headers)


def _until_settled(client, user, message_id):  # type: ignore[no-untyped-def]
    def settled():  # type: ignore[no-untyped-def]
        body = _state(client, user, message_id).get_json()
        return body if body["state"] in ("sent", "failed") else None

    return eventually(settled, 30, f"test message {message_id} to be sent")


@pytest.mark.usefixtures("worker")
def test_a_test_mail_goes_through_the_outbox_to_the_smtp_server(client, users, mail):
    answer = client.post(
        "/users/me/notifications/test", json={"channel": "email"}, headers=users.alice.headers
    )
    assert answer.status_code == 202, answer.get_json()
    body = answer.get_json()
    assert body["channel"] == "email" and body["kind"] == "test" and body["address"] == "alice@example.test"
    assert _until_settled(client, users.alice, body["id"])["state"] == "sent"
    received = mail.wait_for(1, address="alice@example.test")
    assert received[0].subject == "NetRaven: test message on Email"
    assert "Nothing needs doing." in received[0].part("plain")


@pytest.mark.usefixtures("worker")
def test_a_webhook_test_posts_a_test_event_and_a_missing_url_is_a_422(client, users, http_receiver):
    missing = client.post(
        "/users/me/notifications/test", json={"channel": "webhook"}, headers=users.bob.headers
    )
    assert missing.status_code == 422
    assert "webhook" in missing.get_json()["errors"]["json"]["channel"][0].lower()

    client.patch(
        "/users/me/notification-preferences",
        json={"webhook_url": http_receiver.url("/hook")},
        headers=users.bob.headers,
    )
    answer = client.post(
        "/users/me/notifications/test", json={"channel": "webhook"}, headers=users.bob.headers
    )
    assert answer.status_code == 202, answer.get_json()
    posted = http_receiver.wait_for(1)[0]
    assert posted["path"] == "/hook" and posted["json"]["event"] == "test"
    assert _until_settled(client, users.bob, answer.get_json()["id"])["state"] == "sent"


def test_unknown_channels_and_bad_bodies_are_422_naming_the_field(client, users):
    for body in ({"channel": "carrier-pigeon"}, {"channel": ""}, {}, {"channel": "email", "extra": 1}):
        answer = client.post("/users/me/notifications/test", json=body, headers=users.alice.headers)
        assert answer.status_code == 422, body
        assert answer.get_json()["errors"]["json"], body


def test_the_sixth_test_in_ten_minutes_is_refused_with_retry_after(client, users):
    # In-app needs no server: the rows are counted whether or not a worker has sent them yet.
    client.patch(
        "/users/me/notification-preferences", json={"inapp_notifications": True}, headers=users.alice.headers
    )
    for _ in range(TESTS_PER_WINDOW):
        answer = client.post(
            "/users/me/notifications/test", json={"channel": "inapp"}, headers=users.alice.headers
        )
        assert answer.status_code == 202, answer.get_json()
    refused = client.post(
        "/users/me/notifications/test", json={"channel": "inapp"}, headers=users.alice.headers
    )
    assert refused.status_code == 429
    assert 0 < int(refused.headers["Retry-After"]) <= 601
    other = client.post("/users/me/notifications/test", json={"channel": "email"}, headers=users.bob.headers)
    assert other.status_code == 202  # the limit is per person


def test_a_message_is_readable_by_its_recipient_and_admins_only(client, users):
    client.patch(
        "/users/me/notification-preferences", json={"inapp_notifications": True}, headers=users.alice.headers
    )
    sent = client.post("/users/me/notifications/test", json={"channel": "inapp"}, headers=users.alice.headers)
    message_id = sent.get_json()["id"]
    assert _state(client, users.alice, message_id).status_code == 200
    assert _state(client, users.bob, message_id).status_code == 404
    as_admin = client.get(f"/users/{users.alice.id}/notifications/{message_id}", headers=users.admin.headers)
    assert as_admin.status_code == 200 and as_admin.get_json()["channel"] == "inapp"
    not_bobs = client.get(f"/users/{users.alice.id}/notifications/{message_id}", headers=users.bob.headers)
    assert not_bobs.status_code == 403
