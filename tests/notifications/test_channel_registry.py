"""A channel is one unit: a toy channel declared in this file gets preference fields and defaults,
the preferences API, planned outbox rows and a transport, with no other file touched."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import pytest
from marshmallow import ValidationError, fields, validate

from netraven_tasks.notifications.channels import build_channels
from netraven_tasks.notifications.channels.base import Channel, DeliveryResult, OutgoingMessage
from netraven_tasks.notifications.channels.registry import channels, registered
from netraven_tasks.notifications.channels.spec import (
    ChannelSpec,
    Delivery,
    MessageSource,
    Preference,
    Recipient,
)
from netraven_tasks.notifications.recipients import alert_deliveries, plan_deliveries
from netraven_tasks.preferences import (
    DEFAULT_PREFERENCES,
    PreferencesSchema,
    StoredPreferencesSchema,
    default_preferences,
    effective_preferences,
)
from netraven_tasks.settings import Settings

# The last three are routes' only (no preference field): pagerduty, opsgenie, teams.
BUILT_IN = ["email", "slack", "webhook", "sms", "inapp", "pagerduty", "opsgenie", "teams"]


class ToyTransport(Channel):
    name = "toy"
    sent: ClassVar[list[OutgoingMessage]] = []

    def send(self, message: OutgoingMessage) -> DeliveryResult:
        self.sent.append(message)
        return DeliveryResult(provider_message_id=f"toy:{message.message_id}")


class ToySpec(ChannelSpec):
    """Failures only, to the user's ``toy_handle``; the payload is the subject in a dict."""

    name = "toy"
    position = 60
    preferences = (
        Preference(
            "toy_handle",
            field=lambda: fields.String(allow_none=True, load_default=None, validate=validate.Length(max=20)),
            stored=lambda: fields.String(allow_none=True),
            default=None,
        ),
    )

    def delivery(
        self, recipient: Recipient, prefs: Mapping[str, Any], event: str, *, alert: bool
    ) -> Delivery | None:
        handle = prefs.get("toy_handle")
        return self.at_once(recipient, handle) if handle and event == "failed" else None

    def payload(self, source: MessageSource) -> dict[str, Any] | None:
        return {"toy": source.rendered.subject}

    def transport(self, settings: Settings) -> Channel:
        return ToyTransport()


@pytest.fixture
def toy() -> Iterator[ChannelSpec]:
    ToyTransport.sent.clear()
    with registered(ToySpec()) as spec:
        yield spec


def person(**prefs: Any) -> Recipient:
    return Recipient(1, "u1", "u1@example.test", False, True, prefs)


def test_the_built_in_channels_are_found_by_their_modules():
    assert [spec.name for spec in channels()] == BUILT_IN
    assert "toy_handle" not in DEFAULT_PREFERENCES and "toy_handle" not in PreferencesSchema().fields


def test_a_toy_channel_brings_its_preference_field_default_and_validation(toy):
    assert default_preferences()["toy_handle"] is None
    assert effective_preferences({})["toy_handle"] is None
    assert "toy_handle" in StoredPreferencesSchema().fields
    schema = PreferencesSchema(partial=True)
    assert schema.load({"toy_handle": "@me"}) == {"toy_handle": "@me"}
    with pytest.raises(ValidationError) as raised:
        schema.load({"toy_handle": "x" * 21})
    assert list(raised.value.messages) == ["toy_handle"]


def test_a_toy_channel_leaves_nothing_behind():
    with registered(ToySpec()), pytest.raises(ValueError, match="exists already"), registered(ToySpec()):
        pass
    assert "toy_handle" not in default_preferences() and [s.name for s in channels()] == BUILT_IN


def test_a_toy_channel_is_planned_for_what_concerns_its_users(toy):
    toy_user = person(email_notifications=False, toy_handle="@u1")
    assert plan_deliveries(toy_user, [], "failed") == [Delivery(1, "toy", "@u1", "immediate")]
    assert plan_deliveries(toy_user, [], "completed") == []
    assert plan_deliveries(person(), [], "failed") == [Delivery(1, "email", "u1@example.test", "immediate")]
    assert alert_deliveries(person(email_notifications=False, toy_handle="@u1"), "missed") == []


def test_the_preferences_api_takes_and_returns_the_toy_field(toy, settings, make_user):
    from api import create_app
    from netraven_tasks.auth import issue_token
    from netraven_tasks.db import session_factory
    from netraven_tasks.models import User

    user_id = make_user("tess")
    with session_factory(settings)() as session:
        token = issue_token(session.get(User, user_id), settings)
    client = create_app(settings).test_client()
    headers = {"Authorization": f"Bearer {token}"}
    url = "/users/me/notification-preferences"
    assert client.get(url, headers=headers).get_json()["toy_handle"] is None
    changed = client.patch(url, json={"toy_handle": "@tess"}, headers=headers)
    assert changed.status_code == 200 and changed.get_json()["toy_handle"] == "@tess"
    assert client.get(url, headers=headers).get_json()["toy_handle"] == "@tess"
    refused = client.patch(url, json={"toy_handle": "x" * 21}, headers=headers)
    assert refused.status_code == 422 and "toy_handle" in refused.get_json()["errors"]["json"]


def test_a_toy_channel_gets_outbox_rows_and_its_transport_sends_them(toy, settings, make_user, outbox):
    from netraven_tasks.db import session_factory
    from netraven_tasks.notifications import tasks
    from netraven_tasks.notifications.outbox import deliver_due
    from netraven_tasks.notifications.planning import alert_repeat, plan_job_notifications
    from tests.notifications.conftest import insert_failed_jobs

    user_id = make_user("tom", email_notifications=False, toy_handle="@tom")
    [job_id] = insert_failed_jobs(settings, user_id, 1)
    with session_factory(settings).begin() as session:
        planned = plan_job_notifications(
            session, job_id, tasks.renderer(settings), settings.mail_from, alert_repeat(settings)
        )
    [row] = outbox(user_id)
    assert (row.channel, row.address, row.id) == ("toy", "@tom", planned.outbox_ids[0])
    assert row.payload == {"toy": row.subject} and row.subject.startswith("NetRaven job failed")
    transports = build_channels(settings)
    assert isinstance(transports["toy"], ToyTransport)
    assert deliver_due(session_factory(settings), transports).as_dict()["sent"] == 1
    [sent] = ToyTransport.sent
    assert (sent.address, sent.payload) == ("@tom", row.payload)
