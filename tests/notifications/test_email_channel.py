"""The SMTP and Maildir channels on their own: URL forms, error classes, one connection per batch."""

from __future__ import annotations

import mailbox
import socket

import pytest

from netraven_tasks.notifications.channels.base import OutgoingMessage, TransportError
from netraven_tasks.notifications.channels.email import SmtpChannel, SmtpConfig, build_email
from netraven_tasks.notifications.channels.maildir import MaildirChannel


def message(address: str = "ann@example.test", subject: str = "Hello") -> OutgoingMessage:
    return OutgoingMessage(
        channel="email", address=address, subject=subject, text="plain body", html="<p>html body</p>",
        message_id="<fixed@netraven.test>",
    )  # fmt: skip


def test_smtp_urls():
    plain = SmtpConfig.from_url("smtp://mail.example.net")
    assert (plain.host, plain.port, plain.starttls, plain.implicit_tls) == (
        "mail.example.net",
        25,
        False,
        False,
    )
    starttls = SmtpConfig.from_url("smtp://us%40er:p%3Ass@mail:587?starttls=1&timeout=5")
    assert (starttls.port, starttls.starttls, starttls.username, starttls.password, starttls.timeout) == (
        587, True, "us@er", "p:ss", 5.0,
    )  # fmt: skip
    assert SmtpConfig.from_url("smtp+starttls://mail").port == 587
    implicit = SmtpConfig.from_url("smtps://mail?verify=0")
    assert (implicit.port, implicit.implicit_tls, implicit.verify) == (465, True, False)
    with pytest.raises(ValueError, match="must name a host"):
        SmtpConfig.from_url("smtp://")


def test_a_batch_reuses_one_connection(mail):
    channel = SmtpChannel(SmtpConfig("127.0.0.1", mail.port, timeout=5), "NetRaven <netraven@example.test>")
    try:
        results = [channel.send(message(f"u{i}@example.test")) for i in range(3)]
    finally:
        channel.close()
    received = mail.wait_for(3)
    assert len({m.peer for m in received}) == 1
    assert [r.provider_message_id for r in results] == [f"2.0.0 Ok: queued as Q{i}" for i in (1, 2, 3)]
    assert received[0].mail_from == "netraven@example.test"
    assert received[0].part("plain").strip() == "plain body" and "html body" in received[0].part("html")


def test_a_refused_address_is_permanent_and_the_connection_goes_on(mail):
    mail.handler.refuse = {"gone@example.test"}
    channel = SmtpChannel(SmtpConfig("127.0.0.1", mail.port, timeout=5), "netraven@example.test")
    try:
        with pytest.raises(TransportError) as raised:
            channel.send(message("gone@example.test"))
        channel.send(message("here@example.test"))
    finally:
        channel.close()
    assert raised.value.permanent and "550" in raised.value.message
    assert [m.rcpt_tos for m in mail.wait_for(1)] == [("here@example.test",)]


def test_an_unreachable_server_is_transient():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    channel = SmtpChannel(SmtpConfig("127.0.0.1", port, timeout=2), "netraven@example.test")
    with pytest.raises(TransportError) as raised:
        channel.send(message())
    assert not raised.value.permanent


@pytest.mark.parametrize("address", ["a@x.test, b@y.test", "a@x.test\r\nBcc: b@y.test", "", "no-at-sign"])
def test_anything_but_one_address_is_refused(address):
    with pytest.raises(TransportError) as raised:
        build_email(message(address), "netraven@example.test")
    assert raised.value.permanent


def test_maildir_channel_writes_one_message_with_both_parts(tmp_path):
    result = MaildirChannel(tmp_path / "maildir", "netraven@example.test").send(
        message(subject="Hi\r\nBcc: x")
    )
    box = mailbox.Maildir(tmp_path / "maildir", create=False)
    [(key, stored)] = list(box.items())
    assert key == result.provider_message_id
    assert stored["Subject"] == "Hi Bcc: x" and stored["Bcc"] is None
    assert stored["Message-ID"] == "<fixed@netraven.test>"
    assert {part.get_content_type() for part in stored.walk()} >= {"text/plain", "text/html"}
