"""The SMTP channel over STARTTLS with AUTH and over implicit TLS, against a real TLS server."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from netraven_tasks.notifications.channels.base import OutgoingMessage, TransportError
from netraven_tasks.notifications.channels.email import SmtpChannel, SmtpConfig
from tests.conftest import free_port

USER, PASSWORD = "mailer", "s3cret pass"


@pytest.fixture(scope="module")
def certificate(tmp_path_factory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 (the test's own CA)."""
    folder = tmp_path_factory.mktemp("tls")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return cert_path, key_path


class Inbox:
    def __init__(self) -> None:
        self.messages: list[tuple[str, list[str], bytes]] = []
        self.logins: list[str] = []

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.messages.append((envelope.mail_from, list(envelope.rcpt_tos), envelope.content))
        return "250 OK queued as tls-1"

    def authenticate(self, server, session, envelope, mechanism, auth_data):  # type: ignore[no-untyped-def]
        ok = auth_data.login.decode() == USER and auth_data.password.decode() == PASSWORD
        if ok:
            self.logins.append(USER)
        return AuthResult(success=ok)


@pytest.fixture
def tls_server(certificate, request) -> Iterator[tuple[Inbox, int]]:
    """STARTTLS required, AUTH required (param "starttls") or implicit TLS (param "implicit")."""
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*certificate)
    inbox = Inbox()
    port = free_port()
    if request.param == "starttls":
        controller = Controller(
            inbox, hostname="127.0.0.1", port=port, tls_context=context, require_starttls=True,
            authenticator=inbox.authenticate, auth_required=True,
        )  # fmt: skip
    else:
        controller = Controller(inbox, hostname="127.0.0.1", port=port, ssl_context=context)
    controller.start()
    yield inbox, port
    controller.stop()


def _message(subject: str) -> OutgoingMessage:
    return OutgoingMessage(
        channel="email", address="ops@example.net", subject=subject, text="body", message_id="<m@x>"
    )


def _send(url: str, sender: str, *subjects: str) -> list[Any]:
    """Send one message per subject over one channel (one connection), then close it."""
    channel = SmtpChannel(SmtpConfig.from_url(url), sender)
    try:
        return [channel.send(_message(subject)) for subject in subjects]
    finally:
        channel.close()


@pytest.mark.parametrize("tls_server", ["starttls"], indirect=True)
def test_starttls_with_login_delivers_over_an_encrypted_session(tls_server, certificate):
    inbox, port = tls_server
    url = f"smtp://{USER}:{PASSWORD.replace(' ', '%20')}@127.0.0.1:{port}?starttls=1&cafile={certificate[0]}"
    # The second message goes over the same connection, still encrypted and logged in.
    result, _ = _send(url, "NetRaven <netraven@example.net>", "first", "second")
    assert [rcpt for _, rcpt, _ in inbox.messages] == [["ops@example.net"], ["ops@example.net"]]
    assert inbox.logins == [USER], "one login for the whole batch"
    assert "tls-1" in result.provider_message_id


@pytest.mark.parametrize("tls_server", ["implicit"], indirect=True)
def test_smtps_delivers_over_implicit_tls(tls_server, certificate):
    inbox, port = tls_server
    url = f"smtps://127.0.0.1:{port}?cafile={certificate[0]}"
    _send(url, "netraven@example.net", "over tls")
    assert len(inbox.messages) == 1
    assert b"Subject: over tls" in inbox.messages[0][2]


@pytest.mark.parametrize("tls_server", ["implicit"], indirect=True)
def test_an_untrusted_certificate_is_a_retryable_failure_and_nothing_is_sent(tls_server):
    inbox, port = tls_server
    channel = SmtpChannel(SmtpConfig.from_url(f"smtps://127.0.0.1:{port}?timeout=5"), "n@example.net")
    with pytest.raises(TransportError) as raised:
        channel.send(_message("should not arrive"))
    channel.close()
    assert not raised.value.permanent, "an operator can fix the CA: keep the message"
    assert "CERTIFICATE_VERIFY_FAILED" in str(raised.value)
    assert inbox.messages == []


@pytest.mark.parametrize("tls_server", ["starttls"], indirect=True)
def test_wrong_password_keeps_the_message_for_a_later_retry(tls_server, certificate):
    inbox, port = tls_server
    # aiosmtpd 1.4 answers a failed AUTH LOGIN (smtplib's fallback after PLAIN) only by letting
    # the client time out; either way the message must stay for a retry.
    url = f"smtp://{USER}:wrong@127.0.0.1:{port}?starttls=1&timeout=2&cafile={certificate[0]}"
    channel = SmtpChannel(SmtpConfig.from_url(url), "n@example.net")
    with pytest.raises(TransportError) as raised:
        channel.send(_message("nope"))
    channel.close()
    assert not raised.value.permanent
    assert inbox.messages == []
