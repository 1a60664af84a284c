"""GET/PUT/PATCH /users/{user_id}/notification-preferences: defaults, persistence, validation, access."""

from __future__ import annotations

import pytest

from netraven_tasks.preferences import DEFAULT_PREFERENCES

URL = "/users/{}/notification-preferences"
FULL = {
    "email_notifications": True,
    "email_on_job_completion": False,
    "email_on_job_failure": True,
    "notification_frequency": "hourly",
}


def stored_preferences(settings, user_id: int) -> dict:  # type: ignore[no-untyped-def, type-arg]
    """Read from the database in a fresh session: what was persisted, not what the API echoed."""
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import User

    with session_factory(settings)() as session:
        return dict(session.get(User, user_id).notification_preferences)  # type: ignore[union-attr]


def test_defaults_are_returned_for_me_and_for_my_id(client, users):
    for who in ("me", users.alice.id):
        response = client.get(URL.format(who), headers=users.alice.headers)
        assert response.status_code == 200
        assert response.get_json() == DEFAULT_PREFERENCES


def test_patch_changes_only_the_named_field_and_persists_it(client, users, settings):
    response = client.patch(
        URL.format("me"), json={"notification_frequency": "daily"}, headers=users.alice.headers
    )
    assert response.status_code == 200
    assert response.get_json() == {**DEFAULT_PREFERENCES, "notification_frequency": "daily"}
    assert stored_preferences(settings, users.alice.id)["notification_frequency"] == "daily"
    second = client.patch(URL.format("me"), json={"email_on_job_failure": False}, headers=users.alice.headers)
    assert second.get_json()["notification_frequency"] == "daily"
    stored = stored_preferences(settings, users.alice.id)
    assert stored["email_on_job_failure"] is False and stored["notification_frequency"] == "daily"
    assert stored_preferences(settings, users.bob.id) == DEFAULT_PREFERENCES


def test_put_replaces_the_preferences_and_clears_absent_webhooks(client, users, settings):
    client.patch(
        URL.format("me"), json={"webhook_url": "http://127.0.0.1:9/hook"}, headers=users.alice.headers
    )
    response = client.put(URL.format("me"), json=FULL, headers=users.alice.headers)
    assert response.status_code == 200
    expected = {**DEFAULT_PREFERENCES, **FULL, "slack_webhook_url": None, "webhook_url": None}
    assert response.get_json() == expected
    assert stored_preferences(settings, users.alice.id) == expected


def test_webhook_urls_can_be_set_and_cleared(client, users, settings):
    urls = {"slack_webhook_url": "https://hooks.example.test/T1", "webhook_url": "http://127.0.0.1:8080/x"}
    assert client.patch(URL.format("me"), json=urls, headers=users.alice.headers).status_code == 200
    assert {k: stored_preferences(settings, users.alice.id)[k] for k in urls} == urls
    cleared = client.patch(URL.format("me"), json={"webhook_url": None}, headers=users.alice.headers)
    assert cleared.get_json()["webhook_url"] is None
    assert stored_preferences(settings, users.alice.id)["slack_webhook_url"] == urls["slack_webhook_url"]


@pytest.mark.parametrize(
    ("body", "field", "words"),
    [
        (
            {"notification_frequency": "weekly"},
            "notification_frequency",
            "must be one of immediate, hourly, daily",
        ),
        ({"notification_frequency": 3}, "notification_frequency", "Not a valid string"),
        ({"email_notifications": "true"}, "email_notifications", "must be true or false"),
        ({"email_notifications": 1}, "email_notifications", "must be true or false"),
        ({"email_on_job_failure": None}, "email_on_job_failure", "null"),
        ({"favourite_colour": "blue"}, "favourite_colour", "Unknown field"),
        ({"webhook_url": "ftp://example.test/x"}, "webhook_url", "http:// or https://"),
        ({"webhook_url": "http://"}, "webhook_url", "must name a host"),
        ({"slack_webhook_url": "https://user:pw@hooks.example.test/"}, "slack_webhook_url", "credentials"),
        ({"slack_webhook_url": 42}, "slack_webhook_url", "Not a valid string"),
    ],
)
@pytest.mark.parametrize("method", ["patch", "put"])
def test_invalid_preferences_are_422_naming_the_field_and_change_nothing(
    client, users, settings, method, body, field, words
):
    payload = {**FULL, **body} if method == "put" else body
    response = getattr(client, method)(URL.format("me"), json=payload, headers=users.alice.headers)
    assert response.status_code == 422, response.get_json()
    error = response.get_json()
    assert error["code"] == 422
    assert field in error["errors"]["json"]
    assert field in error["message"] and words in error["message"]
    assert stored_preferences(settings, users.alice.id) == DEFAULT_PREFERENCES


def test_put_without_every_setting_is_422(client, users, settings):
    response = client.put(URL.format("me"), json={"email_notifications": False}, headers=users.alice.headers)
    assert response.status_code == 422
    missing = set(response.get_json()["errors"]["json"])
    assert missing == {"email_on_job_completion", "email_on_job_failure", "notification_frequency"}
    assert stored_preferences(settings, users.alice.id) == DEFAULT_PREFERENCES


@pytest.mark.parametrize("body", [[], "daily", 5])
def test_a_body_that_is_not_an_object_is_422(client, users, body):
    response = client.patch(URL.format("me"), json=body, headers=users.alice.headers)
    assert response.status_code == 422


@pytest.fixture(scope="module")
def strict_client(settings):  # type: ignore[no-untyped-def]
    """The API as deployed: no private webhook addresses (the suite allows them for its servers)."""
    from api import create_app

    return create_app(settings.model_copy(update={"allow_private_webhooks": False})).test_client()


@pytest.mark.parametrize("field", ["webhook_url", "slack_webhook_url"])
@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:8080/hook",
        "http://10.1.2.3/hook",
        "http://[::1]/x",
        "http://169.254.169.254/",
        # IPv4 reached through an IPv6 form (NAT64, IPv4-compatible, 6to4) and an IANA special block
        "http://[64:ff9b::7f00:1]:9999/",
        "http://[::127.0.0.1]:9999/",
        "http://[2002:7f00:1::]:9999/",
        "http://192.0.0.8/",
    ],
)
def test_private_webhook_addresses_are_refused_unless_allowed(
    strict_client, client, users, settings, field, url
):
    response = strict_client.patch(URL.format("me"), json={field: url}, headers=users.alice.headers)
    assert response.status_code == 422, url
    body = response.get_json()
    [message] = body["errors"]["json"][field]
    assert "is not allowed" in message and body["message"].startswith(f"{field}: ")
    assert stored_preferences(settings, users.alice.id) == DEFAULT_PREFERENCES
    # The suite's own setting (NETRAVEN_ALLOW_PRIVATE_WEBHOOKS) still lets them through.
    assert client.patch(URL.format("me"), json={field: url}, headers=users.alice.headers).status_code == 200


def test_a_user_cannot_read_or_change_another_users_preferences(client, users, settings):
    other = URL.format(users.bob.id)
    assert client.get(other, headers=users.alice.headers).status_code == 403
    for method, body in (("patch", {"notification_frequency": "daily"}), ("put", FULL)):
        response = getattr(client, method)(other, json=body, headers=users.alice.headers)
        assert response.status_code == 403
        assert "notification_frequency" not in response.get_data(as_text=True)
    assert client.get(URL.format(users.admin.id), headers=users.alice.headers).status_code == 403
    assert client.get(URL.format(999999), headers=users.alice.headers).status_code == 403  # no existence leak
    assert stored_preferences(settings, users.bob.id) == DEFAULT_PREFERENCES


def test_an_admin_reads_and_changes_anyones_preferences(client, users, settings):
    other = URL.format(users.bob.id)
    assert client.get(other, headers=users.admin.headers).get_json() == DEFAULT_PREFERENCES
    response = client.patch(other, json={"email_notifications": False}, headers=users.admin.headers)
    assert response.status_code == 200
    assert stored_preferences(settings, users.bob.id)["email_notifications"] is False
    assert stored_preferences(settings, users.admin.id) == DEFAULT_PREFERENCES


@pytest.mark.parametrize("user_id", ["999999", "abc", "0", "-1", "99999999999999999999"])
def test_unknown_or_malformed_user_ids_are_404_for_admins(client, users, user_id):
    response = client.get(URL.format(user_id), headers=users.admin.headers)
    assert response.status_code == 404
    assert response.get_json()["code"] == 404


def test_preferences_need_a_token(client, users):
    assert client.get(URL.format("me")).status_code == 401
    assert client.patch(URL.format("me"), json={"email_notifications": False}).status_code == 401
