"""The SMS channel against a local Twilio-compatible Messages API: form, auth, retry decisions."""

from __future__ import annotations

import pytest

from tests.conftest import free_port
from tests.schedules.sms_api import SmsApi


@pytest.fixture
def api():  # type: ignore[no-untyped-def]
    server = SmsApi(free_port(), "ACunit", "unit-token")
    server.start()
    yield server
    server.stop()


def channel(api: SmsApi, token: str = "unit-token", path: str = "/2010-04-01"):  # type: ignore[no-untyped-def]
    from netraven_tasks.notifications.channels.sms import SmsChannel, SmsConfig

    return SmsChannel(SmsConfig(f"http://127.0.0.1:{api.port}{path}", api.account_sid, token, "+15005550006"))


def message(text: str = "NetRaven job failed: config_backup on r1", to: str = "+4915112345678"):  # type: ignore[no-untyped-def]
    from netraven_tasks.notifications.channels.base import OutgoingMessage

    return OutgoingMessage(channel="sms", address=to, subject=text, text=text, message_id="<m1@x>", user_id=1)


def test_a_message_is_posted_form_encoded_with_basic_auth_and_the_sid_kept(api):
    result = channel(api).send(message())
    [sent] = api.messages
    assert sent["To"] == "+4915112345678" and sent["From"] == "+15005550006"
    assert sent["Body"] == "NetRaven job failed: config_backup on r1"
    assert result.provider_message_id == sent["sid"]


def test_wrong_credentials_or_number_are_permanent_and_server_errors_are_retried(api):
    from netraven_tasks.notifications.channels.base import TransportError

    with pytest.raises(TransportError) as refused:
        channel(api, token="wrong").send(message())
    assert refused.value.permanent and "401" in refused.value.message
    with pytest.raises(TransportError) as bad_number:
        channel(api).send(message(to="015112345678"))
    assert bad_number.value.permanent and "400" in bad_number.value.message
    with pytest.raises(TransportError) as unreachable:
        channel(SmsApi(free_port(), "AC", "t")).send(message())  # nothing listens on that port
    assert not unreachable.value.permanent
    assert api.messages == []


def test_a_long_body_is_cut_and_user_text_stays_one_form_value(api):
    text = "x" * 1000 + "&To=+19999999999"
    channel(api).send(message(text=text))
    [sent] = api.messages
    assert sent["To"] == "+4915112345678" and len(sent["Body"]) == 320
