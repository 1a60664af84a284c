"""Delivery channels: one class per channel behind the ``Channel`` interface (see ``base``)."""

from __future__ import annotations

from functools import partial

from netraven_tasks.db import session_factory
from netraven_tasks.notifications.channels.base import Channel
from netraven_tasks.notifications.channels.email import SmtpChannel, SmtpConfig
from netraven_tasks.notifications.channels.inapp import InAppChannel
from netraven_tasks.notifications.channels.maildir import MaildirChannel
from netraven_tasks.notifications.channels.slack import SlackChannel
from netraven_tasks.notifications.channels.sms import SmsChannel, SmsConfig
from netraven_tasks.notifications.channels.webhook import WebhookChannel, signing_key
from netraven_tasks.settings import Settings


def build_channels(settings: Settings) -> dict[str, Channel]:
    """A fresh set of channels for one delivery batch, as the settings configure them."""
    email: Channel
    if settings.smtp_url:
        email = SmtpChannel(SmtpConfig.from_url(settings.smtp_url), settings.mail_from)
    else:
        email = MaildirChannel(settings.maildir, settings.mail_from)
    allow_private = settings.allow_private_webhooks
    return {
        "email": email,
        "slack": SlackChannel(allow_private=allow_private),
        "webhook": WebhookChannel(partial(signing_key, settings.secret_key), allow_private=allow_private),
        **_alert_channels(settings),
    }


def _alert_channels(settings: Settings) -> dict[str, Channel]:
    """SMS (when NETRAVEN_SMS_* are set) and the in-app inbox."""
    channels: dict[str, Channel] = {"inapp": InAppChannel(session_factory(settings))}
    if settings.sms_url and settings.sms_account_sid and settings.sms_auth_token and settings.sms_from:
        config = SmsConfig(
            settings.sms_url, settings.sms_account_sid, settings.sms_auth_token, settings.sms_from
        )
        channels["sms"] = SmsChannel(config)
    return channels
