"""The e-mail adapter against a real SMTP server (aiosmtpd) on loopback."""

from __future__ import annotations

import email
import email.policy
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

from channels.gateways.base import Message
from channels.gateways.smtp import SmtpGateway
from channels.templates import Rendered
from smartcomms.localstack import free_port


class Mailbox:
    """An SMTP handler that keeps what it accepts and refuses some recipients."""

    def __init__(self) -> None:
        self.messages: list[email.message.EmailMessage] = []
        self.replies = {
            "gone@example.ru": "550 5.1.1 No such user",
            "busy@example.ru": "451 4.3.0 Try again later",
        }

    async def handle_RCPT(
        self,
        server: Any,
        session: Any,
        envelope: Any,
        address: str,
        options: Any,
    ) -> str:
        if address in self.replies:
            return self.replies[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        parsed = email.message_from_bytes(envelope.content, policy=email.policy.default)
        self.messages.append(parsed)  # type: ignore[arg-type]
        return "250 Message accepted"


def message(address: str, html: str | None = "<p>Анна, <b>давно</b> не виделись!</p>") -> Message:
    return Message(
        "n-7",
        "C1",
        "email",
        address,
        Rendered("Анна, давно не виделись! Дарим 300 бонусов.", "Мы скучаем", html),
    )


@pytest.fixture
def mailbox() -> Iterator[tuple[Mailbox, int]]:
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=free_port())
    controller.start()
    yield box, controller.port
    controller.stop()


def test_message_content_subject_encoding_and_parts(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    gateway = SmtpGateway("127.0.0.1", port, sender="Магазин <noreply@shop.ru>", starttls=False)
    result = gateway.send(message("anna@example.ru"))
    assert result.outcome == "sent" and result.provider_id
    [mail] = box.messages
    assert mail["Subject"] == "Мы скучаем" and mail["To"] == "anna@example.ru"
    assert mail["From"] == "Магазин <noreply@shop.ru>" and mail["X-Notice-Id"] == "n-7"
    assert mail.get_content_type() == "multipart/alternative"
    text = mail.get_body(("plain",))
    html = mail.get_body(("html",))
    assert text is not None and html is not None
    assert text.get_content().strip() == "Анна, давно не виделись! Дарим 300 бонусов."
    assert "<b>давно</b>" in html.get_content()
    assert text.get_content_charset() == "utf-8"


def test_plain_text_only_when_there_is_no_html(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    SmtpGateway("127.0.0.1", port, starttls=False).send(message("a@example.ru", html=None))
    assert box.messages[0].get_content_type() == "text/plain"


def test_refusals_permanent_and_temporary(mailbox: tuple[Mailbox, int]) -> None:
    _box, port = mailbox
    gateway = SmtpGateway("127.0.0.1", port, starttls=False)
    gone = gateway.send(message("gone@example.ru"))
    busy = gateway.send(message("busy@example.ru"))
    assert gone.outcome == "failed" and "550" in (gone.error or "")
    assert busy.outcome == "retry" and "451" in (busy.error or "")


def test_a_batch_goes_out_in_parallel_sessions(mailbox: tuple[Mailbox, int]) -> None:
    box, port = mailbox
    gateway = SmtpGateway("127.0.0.1", port, sender="shop@shop.ru", starttls=False, concurrency=3)
    addresses = ["a@example.ru", "gone@example.ru", "b@example.ru", "busy@example.ru"]
    results = gateway.send_many([message(address) for address in addresses])
    gateway.close()
    assert [r.outcome for r in results] == ["sent", "failed", "sent", "retry"]
    assert sorted(m["To"] for m in box.messages) == ["a@example.ru", "b@example.ru"]


def test_server_down_is_transient() -> None:
    result = SmtpGateway("127.0.0.1", free_port(), starttls=False, timeout_s=2).send(
        message("a@example.ru")
    )
    assert result.outcome == "retry"


def test_starttls_and_auth(tmp_path: Path) -> None:
    cert, key = tmp_path / "cert.pem", tmp_path / "key.pem"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
            "-keyout",
            str(key),
            "-out",
            str(cert),
        ],
        check=True,
        capture_output=True,
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    logins: list[tuple[bytes, bytes]] = []

    def authenticate(
        server: Any, session: Any, envelope: Any, mechanism: str, data: Any
    ) -> AuthResult:
        logins.append((data.login, data.password))
        # handled=False: aiosmtpd answers the failure itself (535)
        return AuthResult(success=data.password == b"s3cret", handled=False)

    box = Mailbox()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=free_port(),
        tls_context=context,
        require_starttls=True,
        authenticator=authenticate,
        auth_require_tls=True,
    )
    controller.start()
    try:
        gateway = SmtpGateway(
            "127.0.0.1", controller.port, username="shop", password="s3cret", ca_file=str(cert)
        )
        assert gateway.send(message("anna@example.ru")).outcome == "sent"
        wrong = SmtpGateway(
            "127.0.0.1", controller.port, username="shop", password="nope", ca_file=str(cert)
        ).send(message("anna@example.ru"))
    finally:
        controller.stop()
    assert len(box.messages) == 1 and logins[0] == (b"shop", b"s3cret")
    assert wrong.outcome == "failed" and "535" in (wrong.error or ""), wrong
